using System.Globalization;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>PostgreSQL's four row-lock strengths, strongest first.</summary>
internal enum RowLockStrength
{
    Update,
    NoKeyUpdate,
    Share,
    KeyShare,
}

/// <summary>What a row-lock tag in a query or a command says about the command it is on.</summary>
internal enum RowLockTagKind
{
    /// <summary>The lock was asked for; nothing rendered it into the SQL (SQLite, or PostgreSQL without <c>UseRowLocks()</c>).</summary>
    Requested,

    /// <summary>A SQL generator rendered the locking clause into this command.</summary>
    Rendered,

    /// <summary>
    ///     A split query's dependent command (<c>AsSplitQuery()</c>): it reads the rows of a collection joined on the root rows
    ///     the first command locked, so it carries no clause of its own and is not a locking command.
    /// </summary>
    SplitDependent,
}

/// <summary>
///     What a locking operator asked for. The operator wraps its query in a <see cref="RowLockQueryRootExpression{T}" />;
///     when the query is compiled, the preprocessor turns that into a query tag, which carries the request through EF's
///     pipeline: the only annotation that reaches the SQL generator (as <c>SelectExpression.Tags</c>) without an EF-internal
///     API, and that still shows in the command text as a comment when nothing renders it, so a lock request can never be
///     dropped silently (the command interceptor refuses such a command).
/// </summary>
/// <remarks>
///     Format: <c>concurrency:row-lock:&lt;strength&gt;:&lt;wait&gt;:&lt;timeout ms, 0 for none&gt;:&lt;entity type&gt;</c>.
///     A SQL generator that renders the lock replaces the prefix with <c>concurrency:row-locked:</c>, which tells the
///     interceptor the lock is in the SQL (it still checks for a transaction and translates lock errors); on a split
///     query's dependent command it writes <c>concurrency:row-lock-split:</c> instead (no clause there, see
///     <see cref="RowLockTagKind.SplitDependent" />).
/// </remarks>
internal sealed record RowLockRequest(RowLockStrength Strength, RowLockWait Wait, int? TimeoutMilliseconds, string EntityName)
{
    public const string Prefix = "concurrency:row-lock:";
    public const string RenderedPrefix = "concurrency:row-locked:";
    public const string SplitDependentPrefix = "concurrency:row-lock-split:";

    /// <summary>PostgreSQL's largest <c>lock_timeout</c>: <c>INT_MAX</c> milliseconds.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    public string Tag
        => Format(Prefix);

    public string RenderedTag
        => Format(RenderedPrefix);

    public string SplitDependentTag
        => Format(SplitDependentPrefix);

    /// <summary>The SQL keywords of the strength, e.g. <c>FOR NO KEY UPDATE</c>.</summary>
    public string Clause
        => Strength switch
        {
            RowLockStrength.Update => "FOR UPDATE",
            RowLockStrength.NoKeyUpdate => "FOR NO KEY UPDATE",
            RowLockStrength.Share => "FOR SHARE",
            _ => "FOR KEY SHARE",
        };

    /// <summary>The operator that made the request, for messages, e.g. <c>ForUpdate(RowLockWait.NoWait)</c>.</summary>
    public string Operator
        => $"For{Strength}({(TimeoutMilliseconds is { } ms ? $"timeout: {ms} ms" : Wait == RowLockWait.Block ? "" : "RowLockWait." + Wait)})";

    /// <summary>How long the query waited, for messages: the wait mode, or the timeout.</summary>
    public string WaitDescription
        => TimeoutMilliseconds is { } ms ? $"timeout of {ms} ms" : $"wait mode {Wait}";

    private string Format(string prefix)
        => string.Create(
            CultureInfo.InvariantCulture,
            $"{prefix}{Strength}:{Wait}:{TimeoutMilliseconds ?? 0}:{EntityName}");

    /// <summary>
    ///     The request of a locking operator, its arguments checked: <paramref name="wait" /> a defined value, and
    ///     <paramref name="timeout" /> more than zero and at most PostgreSQL's limit, rounded up to whole milliseconds.
    /// </summary>
    public static RowLockRequest Create(RowLockStrength strength, RowLockWait wait, TimeSpan? timeout, string entityName)
    {
        if ((uint)wait > (uint)RowLockWait.SkipLocked) // Enum.IsDefined, without its lookup
        {
            throw new ArgumentOutOfRangeException(nameof(wait), wait, "Not a RowLockWait value.");
        }

        int? milliseconds = null;
        if (timeout is { } t)
        {
            if (t <= TimeSpan.Zero || t > MaxTimeout)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(timeout),
                    t,
                    $"A row-lock timeout must be more than zero and at most {MaxTimeout} (PostgreSQL's limit for lock_timeout);"
                    + " to wait without limit, omit the timeout.");
            }

            milliseconds = (int)Math.Min(int.MaxValue, Math.Ceiling(t.TotalMilliseconds));
        }

        return new RowLockRequest(strength, wait, milliseconds, entityName);
    }

    /// <summary>The request in <paramref name="tag" />, and what kind of tag it is; null when it is not a row-lock tag.</summary>
    public static RowLockRequest? Parse(string tag, out RowLockTagKind kind)
    {
        string prefix;
        if (tag.StartsWith(Prefix, StringComparison.Ordinal))
        {
            (kind, prefix) = (RowLockTagKind.Requested, Prefix);
        }
        else if (tag.StartsWith(RenderedPrefix, StringComparison.Ordinal))
        {
            (kind, prefix) = (RowLockTagKind.Rendered, RenderedPrefix);
        }
        else if (tag.StartsWith(SplitDependentPrefix, StringComparison.Ordinal))
        {
            (kind, prefix) = (RowLockTagKind.SplitDependent, SplitDependentPrefix);
        }
        else
        {
            kind = default;
            return null;
        }

        var parts = tag[prefix.Length..].Split(':', 4);
        return parts.Length == 4
            && Enum.TryParse<RowLockStrength>(parts[0], out var strength)
            && Enum.TryParse<RowLockWait>(parts[1], out var wait)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var timeout)
                ? new RowLockRequest(strength, wait, timeout == 0 ? null : timeout, parts[3])
                : null;
    }

    /// <summary>The one row-lock request among <paramref name="tags" />; throws when there are two different ones.</summary>
    public static RowLockRequest? Find(IEnumerable<string> tags)
    {
        RowLockRequest? found = null;
        foreach (var tag in tags)
        {
            if (Parse(tag, out var kind) is not { } request || kind == RowLockTagKind.SplitDependent || request == found)
            {
                continue;
            }

            found = found is null ? request : throw Conflicting(found, request);
        }

        return found;
    }

    /// <summary>The request in a command's text (its tag comment line), and the kind of tag; null when none.</summary>
    public static RowLockRequest? FindInCommandText(string commandText, out RowLockTagKind kind)
    {
        kind = default;
        for (var start = commandText.IndexOf(TagSearch, StringComparison.Ordinal);
             start >= 0;
             start = commandText.IndexOf(TagSearch, start + TagSearch.Length, StringComparison.Ordinal))
        {
            var end = commandText.IndexOfAny(['\r', '\n'], start);
            if (Parse(end < 0 ? commandText[start..] : commandText[start..end], out kind) is { } request)
            {
                return request;
            }
        }

        return null;
    }

    /// <summary>What every row-lock tag starts with: one search finds a command's tag, whatever its kind.</summary>
    private const string TagSearch = "concurrency:row-lock";

    public static InvalidOperationException Conflicting(RowLockRequest first, RowLockRequest second)
        => new(
            first.EntityName == second.EntityName
                ? $"The query on '{first.EntityName}' asks for two different row locks, {first.Operator} and {second.Operator}."
                  + " A query takes one row lock: keep the one you need (the strongest, ForUpdate, when in doubt)."
                : $"The query asks for two different row locks, {first.Operator} on '{first.EntityName}' and {second.Operator} on"
                  + $" '{second.EntityName}'. A query takes one row lock, on the rows of its root entity: keep that one, and lock"
                  + " other rows with a query of their own.");
}
