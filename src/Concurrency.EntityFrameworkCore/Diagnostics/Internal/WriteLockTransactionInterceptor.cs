using System.Data.Common;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Records the transactions EF begins that hold the write lock from their first statement (SQLite's
///     <c>BEGIN IMMEDIATE</c>) in <see cref="WriteLockedTransactions" />, so a locking query in them sends nothing more.
///     Does nothing on a database that locks rows (PostgreSQL).
/// </summary>
internal sealed class WriteLockTransactionInterceptor(DatabaseDialect dialect, WriteLockedTransactions transactions) : DbTransactionInterceptor
{
    public override InterceptionResult<DbTransaction> TransactionStarting(
        DbConnection connection,
        TransactionStartingEventData eventData,
        InterceptionResult<DbTransaction> result)
    {
        transactions.Beginning = eventData.IsolationLevel;
        return result;
    }

    public override ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
        DbConnection connection,
        TransactionStartingEventData eventData,
        InterceptionResult<DbTransaction> result,
        CancellationToken cancellationToken = default)
    {
        transactions.Beginning = eventData.IsolationLevel;
        return ValueTask.FromResult(result);
    }

    public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        Started(result);
        return result;
    }

    public override ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection,
        TransactionEndEventData eventData,
        DbTransaction result,
        CancellationToken cancellationToken = default)
    {
        Started(result);
        return ValueTask.FromResult(result);
    }

    private void Started(DbTransaction transaction)
    {
        if (dialect.WriteLockSql is not null && transactions.Beginning is { } level && dialect.BeginTakesWriteLock(level))
        {
            transactions.Held(transaction);
        }

        transactions.Beginning = null;
    }
}
