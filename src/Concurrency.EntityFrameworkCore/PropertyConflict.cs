using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore;

/// <summary>A property that both this client and someone else changed, to different values.</summary>
/// <param name="Property">The property.</param>
/// <param name="OriginalValue">The value this client loaded.</param>
/// <param name="ProposedValue">The value this client wanted to write.</param>
/// <param name="DatabaseValue">The value the other writer saved.</param>
public sealed record PropertyConflict(IProperty Property, object? OriginalValue, object? ProposedValue, object? DatabaseValue);
