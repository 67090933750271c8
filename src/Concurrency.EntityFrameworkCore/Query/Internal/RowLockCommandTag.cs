using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore.Metadata;

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

    /// <summary>
    ///     Set once a reader of this command was found to have the columns the plan names (<c>TrackedRowRefresher</c>): the
    ///     command's text fixes its columns, so later readers of it need not be checked again.
    /// </summary>
    public bool ColumnsChecked { get; set; }

    // One reference, so a context reading it while another writes it sees a whole pair (the tag is shared by all contexts).
    private ModelPlan? _plan;

    /// <summary>The command's lock plan read with <paramref name="model" />, kept with the text; null when it has no plan tag.</summary>
    public RowLockReadPlan? Plan(IModel model)
    {
        if (PlanTag is null)
        {
            return null;
        }

        if (_plan is { } cached && ReferenceEquals(cached.Model, model))
        {
            return cached.Plan;
        }

        var plan = RowLockReadPlan.Find(PlanTag, model);
        _plan = new ModelPlan(model, plan);
        return plan;
    }

    private sealed record ModelPlan(IModel Model, RowLockReadPlan Plan);

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
