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

/// <summary>
///     What a locking operator asked for, carried through EF's query pipeline as a query tag (<c>TagWith</c>): the only
///     annotation a LINQ operator can attach that reaches the SQL generator (as <c>SelectExpression.Tags</c>) without an
///     EF-internal API, and that still shows in the command text as a comment when nothing renders it, so a lock request
///     can never be dropped silently (the command interceptor refuses such a command).
/// </summary>
/// <remarks>
///     Format: <c>concurrency:row-lock:&lt;strength&gt;:&lt;wait&gt;:&lt;timeout ms, 0 for none&gt;:&lt;entity type&gt;</c>.
///     A SQL generator that renders the lock replaces the prefix with <c>concurrency:row-locked:</c>, which tells the
///     interceptor the lock is in the SQL (it still checks for a transaction and translates lock errors).
/// </remarks>
internal sealed record RowLockRequest(RowLockStrength Strength, RowLockWait Wait, int? TimeoutMilliseconds, string EntityName)
{
    public const string Prefix = "concurrency:row-lock:";
    public const string RenderedPrefix = "concurrency:row-locked:";

    /// <summary>PostgreSQL's largest <c>lock_timeout</c>: <c>INT_MAX</c> milliseconds.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    public string Tag
        => Format(Prefix);

    public string RenderedTag
        => Format(RenderedPrefix);

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

    /// <summary>The request in <paramref name="tag" />, rendered or not; null when it is not a row-lock tag.</summary>
    public static RowLockRequest? Parse(string tag, out bool rendered)
    {
        rendered = tag.StartsWith(RenderedPrefix, StringComparison.Ordinal);
        if (!rendered && !tag.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = tag[(rendered ? RenderedPrefix : Prefix).Length..].Split(':', 4);
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
            if (Parse(tag, out _) is not { } request || request == found)
            {
                continue;
            }

            found = found is null ? request : throw Conflicting(found, request);
        }

        return found;
    }

    /// <summary>The request in a command's text (the tag comment line), and whether it was rendered; null when none.</summary>
    public static RowLockRequest? FindInCommandText(string commandText, out bool rendered)
    {
        rendered = false;
        var start = commandText.IndexOf("concurrency:row-lock", StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var end = commandText.IndexOfAny(['\r', '\n'], start);
        return Parse(end < 0 ? commandText[start..] : commandText[start..end], out rendered);
    }

    public static InvalidOperationException Conflicting(RowLockRequest first, RowLockRequest second)
        => new(
            $"The query on '{first.EntityName}' asks for two different row locks, {first.Operator} and {second.Operator}."
            + " A query takes one row lock: keep the one you need (the strongest, ForUpdate, when in doubt).");
}
