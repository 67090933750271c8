namespace Concurrency.EntityFrameworkCore;

/// <summary>A version trigger the model requires, as reported by <c>context.Database.GetVersionTriggers()</c>.</summary>
/// <param name="EntityType">The display name of the entity type that declares the trigger version field.</param>
/// <param name="Property">The name of the trigger version property.</param>
/// <param name="Table">The table the trigger is on.</param>
/// <param name="Schema">The table's schema, or <see langword="null" /> for the default schema.</param>
/// <param name="Column">The version column the trigger increments.</param>
/// <param name="Name">The trigger's name in the database.</param>
public sealed record VersionTriggerInfo(string EntityType, string Property, string Table, string? Schema, string Column, string Name);
