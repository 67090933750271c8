using System.Runtime.CompilerServices;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     The row-lock tag of a command's text (<see cref="RowLockRequest.FindInCommandText" />) and its lock-plan tag line
///     (<see cref="RowLockReadPlan" />), read once per command text. EF caches a query's relational command, so every run of
///     the same query sets the same string instance as the command's text: the parse is looked up by that reference, and the
///     command interceptor, which sees every command up to three times (before, after, on failure), neither searches nor
///     parses a locking command's text again.
/// </summary>
/// <remarks>
///     Only texts with a row-lock tag are cached, in a <see cref="ConditionalWeakTable{TKey, TValue}" />: an entry lives as
///     long as its text, so a command text built anew for every command (raw SQL) costs one search, as before, and holds
///     nothing. A text equal to a cached one but another instance is parsed and cached on its own; the result is the same.
/// </remarks>
internal sealed class RowLockCommandTag
{
    private static readonly ConditionalWeakTable<string, RowLockCommandTag> Cache = new();

    private RowLockCommandTag(RowLockRequest request, RowLockTagKind kind, string? planTag)
    {
        Request = request;
        Kind = kind;
        PlanTag = planTag;
    }

    /// <summary>What the command's row-lock tag asks for.</summary>
    public RowLockRequest Request { get; }

    /// <summary>What kind of row-lock tag the command carries.</summary>
    public RowLockTagKind Kind { get; }

    /// <summary>The command's lock-plan tag line (<see cref="RowLockReadPlan.FindTag" />); null when it has none.</summary>
    public string? PlanTag { get; }

    /// <summary>The row-lock tag of <paramref name="commandText" />; null when it has none.</summary>
    public static RowLockCommandTag? Find(string commandText)
    {
        if (Cache.TryGetValue(commandText, out var tag))
        {
            return tag;
        }

        if (RowLockRequest.FindInCommandText(commandText, out var kind) is not { } request)
        {
            return null;
        }

        tag = new RowLockCommandTag(request, kind, RowLockReadPlan.FindTag(commandText));
        Cache.AddOrUpdate(commandText, tag);
        return tag;
    }
}
