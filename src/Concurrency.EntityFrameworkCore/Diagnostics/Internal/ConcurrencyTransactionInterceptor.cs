using System.Data.Common;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Follows the context's transactions and connection for the three parts of the library that depend on them, each in
///     its own type:
///     <list type="bullet">
///         <item><see cref="TransactionVersionLog" />: a commit keeps the versions saved in a transaction; a rollback or a
///         failed commit restores the versions the entities had before.</item>
///         <item><see cref="WriteLockedTransactions" />: a transaction EF begins with the write lock (SQLite's
///         <c>BEGIN IMMEDIATE</c>) is recorded, so a locking query in it sends nothing more.</item>
///         <item><see cref="NamedLockRegistry" />: a transaction's named locks end with it (and with the connection); the
///         PostgreSQL session locks that live on the context's connection are unlocked before it closes or is disposed, so
///         none goes back to Npgsql's pool still held.</item>
///     </list>
/// </summary>
/// <remarks>
///     One interceptor rather than one per part: EF calls every transaction interceptor of a context on every transaction
///     event, through a composite when there are several.
/// </remarks>
internal sealed class ConcurrencyTransactionInterceptor(
    SaveSession session,
    DatabaseDialect dialect,
    WriteLockedTransactions writeLocked,
    NamedLockRegistry namedLocks)
    : DbTransactionInterceptor, IDbConnectionInterceptor
{
    public override InterceptionResult<DbTransaction> TransactionStarting(
        DbConnection connection,
        TransactionStartingEventData eventData,
        InterceptionResult<DbTransaction> result)
    {
        writeLocked.Beginning = eventData.IsolationLevel;
        return result;
    }

    public override ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
        DbConnection connection,
        TransactionStartingEventData eventData,
        InterceptionResult<DbTransaction> result,
        CancellationToken cancellationToken = default)
    {
        writeLocked.Beginning = eventData.IsolationLevel;
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

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData)
        => Committed(transaction);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Committed(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData)
        => RolledBack(transaction);

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        RolledBack(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData)
        => RolledBack(transaction);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        RolledBack(transaction);
        return Task.CompletedTask;
    }

    public override void RolledBackToSavepoint(DbTransaction transaction, TransactionEventData eventData)
        => namedLocks.RolledBackToSavepoint(transaction);

    public override Task RolledBackToSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        namedLocks.RolledBackToSavepoint(transaction);
        return Task.CompletedTask;
    }

    public InterceptionResult ConnectionClosing(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        LetGo(connection);
        return result;
    }

    public ValueTask<InterceptionResult> ConnectionClosingAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
        => LetGoAsync(connection, result);

    public InterceptionResult ConnectionDisposing(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        LetGo(connection);
        return result;
    }

    public ValueTask<InterceptionResult> ConnectionDisposingAsync(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
        => LetGoAsync(connection, result);

    public void ConnectionClosed(DbConnection connection, ConnectionEndEventData eventData)
        => namedLocks.TransactionEnded(null);

    public Task ConnectionClosedAsync(DbConnection connection, ConnectionEndEventData eventData)
    {
        namedLocks.TransactionEnded(null);
        return Task.CompletedTask;
    }

    private void Started(DbTransaction transaction)
    {
        session.Transactions.Begun(transaction);
        writeLocked.Started(transaction, dialect);
    }

    private void Committed(DbTransaction transaction)
    {
        session.Transactions.Committed(transaction);
        namedLocks.TransactionEnded(transaction);
    }

    private void RolledBack(DbTransaction transaction)
    {
        session.Transactions.RolledBack(transaction, session.Loaded);
        namedLocks.TransactionEnded(transaction);
    }

    private void LetGo(DbConnection connection)
    {
        if (namedLocks.HoldsSessions)
        {
            namedLocks.AbandonSessionsAsync(connection, connectionBoundOnly: true, async: false).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Every close of every context's connection passes here: without session locks it returns at once, allocating nothing.</summary>
    private async ValueTask<InterceptionResult> LetGoAsync(DbConnection connection, InterceptionResult result)
    {
        if (namedLocks.HoldsSessions)
        {
            await namedLocks.AbandonSessionsAsync(connection, connectionBoundOnly: true, async: true).ConfigureAwait(false);
        }

        return result;
    }
}
