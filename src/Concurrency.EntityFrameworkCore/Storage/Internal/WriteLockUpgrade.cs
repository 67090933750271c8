using System.Data.Common;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     Takes the database's write lock before a locking query on a database whose transaction is the lock (SQLite), when
///     the transaction may not hold it yet: one begun deferred (<c>BeginTransaction(deferred: true)</c> on the ADO.NET
///     connection, or <c>IsolationLevel.ReadUncommitted</c>) and adopted with <c>UseTransaction</c>. Without it the query
///     would read under a shared lock only, and another writer could change the rows before this transaction writes. The
///     write of nothing (<see cref="DatabaseDialect.WriteLockSql" />) runs through EF's command pipeline, once per
///     transaction, waiting as the query's wait mode says: <c>NoWait</c> and timeouts become Microsoft.Data.Sqlite's command
///     timeout for that statement (whole seconds, at least one: zero would mean "wait forever").
/// </summary>
internal static class WriteLockUpgrade
{
    public static async ValueTask TakeAsync(
        DbContext context,
        DbCommand command,
        RowLockRequest request,
        DatabaseDialect dialect,
        WriteLockedTransactions transactions,
        bool async,
        CancellationToken cancellationToken)
    {
        if (dialect.WriteLockSql is not { } sql || command.Transaction is not { } transaction || transactions.Holds(transaction))
        {
            return;
        }

        var table = RowLockReadPlan.FindInCommandText(command.CommandText, context.Model)?.Table
            ?? throw new InvalidOperationException(
                $"The query on '{request.EntityName}' takes a row lock ({request.Operator}) in a transaction that may not hold SQLite's"
                + " write lock yet (begun deferred, or adopted with UseTransaction), and it reads no table the library could take"
                + " the lock with. Begin the transaction with context.Database.BeginTransaction(), which takes the write lock when it begins.");

        var database = context.Database;
        var previous = database.GetCommandTimeout();
        database.SetCommandTimeout(
            request.Wait == RowLockWait.NoWait ? 1
            : request.TimeoutMilliseconds is { } milliseconds ? (int)Math.Ceiling(milliseconds / 1000.0)
            : previous);
        try
        {
            await new ContextCommand(context, CommandSource.Unknown)
                .Append(string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, DatabaseDialect.Quote(table)))
                .ExecuteNonQueryAsync(async, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (DbException exception) when (dialect.ClassifyRowLockError(exception) == RowLockFailure.NotAvailable)
        {
            throw new RowLockNotAvailableException(
                $"The rows of '{request.EntityName}' could not be locked ({request.Operator}, {request.WaitDescription}): SQLite's write"
                + " lock, which this deferred transaction must take first, is held by another connection, or this transaction already"
                + " read data another writer has changed since (then it can never take the lock). Roll back and retry"
                + " (RetryOnConflictAsync retries this); begin the transaction with context.Database.BeginTransaction(), which"
                + " takes the write lock when it begins.",
                exception);
        }
        finally
        {
            database.SetCommandTimeout(previous);
        }

        transactions.Held(transaction);
    }
}
