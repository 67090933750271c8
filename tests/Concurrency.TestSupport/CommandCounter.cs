using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.TestSupport;

/// <summary>
///     An application's own command interceptor: counts the commands EF's pipeline runs (every round trip of a query or
///     a save), and keeps each one's text and the transaction it ran in. Used by the tests and the benchmarks.
/// </summary>
public sealed class CommandCounter : DbCommandInterceptor
{
    private readonly ConcurrentQueue<(string Sql, DbTransaction? Transaction)> _executed = new();

    public int Commands
        => _executed.Count;

    /// <summary>The text of every command, in the order they ran.</summary>
    public string Sql
        => string.Concat(_executed.Select(c => c.Sql));

    public IReadOnlyList<(string Sql, DbTransaction? Transaction)> Executed
        => [.. _executed];

    public void Reset()
        => _executed.Clear();

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Count(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Count(command);
        return result;
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Count(command);
        return result;
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<object> result,
        CancellationToken cancellationToken = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    private void Count(DbCommand command)
        => _executed.Enqueue((command.CommandText, command.Transaction));
}
