using System.Data.Common;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Ends the transaction-scoped named locks of a transaction when it commits, rolls back or fails, and when the
///     connection closes (a transaction cannot outlive it): PostgreSQL has released them itself; SQLite's file locks are
///     released here. Before the context's connection closes or is disposed, the PostgreSQL session locks that live on
///     it are unlocked (their handles report the loss), so none goes back to Npgsql's pool still held.
/// </summary>
internal sealed class NamedLockTransactionInterceptor(NamedLockRegistry registry) : DbTransactionInterceptor, IDbConnectionInterceptor
{
    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData)
        => registry.TransactionEnded(transaction);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        registry.TransactionEnded(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData)
        => registry.TransactionEnded(transaction);

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        registry.TransactionEnded(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData)
        => registry.TransactionEnded(transaction);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        registry.TransactionEnded(transaction);
        return Task.CompletedTask;
    }

    public override void RolledBackToSavepoint(DbTransaction transaction, TransactionEventData eventData)
        => registry.RolledBackToSavepoint(transaction);

    public override Task RolledBackToSavepointAsync(DbTransaction transaction, TransactionEventData eventData, CancellationToken cancellationToken = default)
    {
        registry.RolledBackToSavepoint(transaction);
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

    private void LetGo(DbConnection connection)
    {
        if (registry.HoldsSessions)
        {
            registry.AbandonSessionsAsync(connection, connectionBoundOnly: true, async: false).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Every close of every context's connection passes here: without session locks it returns at once, allocating nothing.</summary>
    private async ValueTask<InterceptionResult> LetGoAsync(DbConnection connection, InterceptionResult result)
    {
        if (registry.HoldsSessions)
        {
            await registry.AbandonSessionsAsync(connection, connectionBoundOnly: true, async: true).ConfigureAwait(false);
        }

        return result;
    }

    public void ConnectionClosed(DbConnection connection, ConnectionEndEventData eventData)
        => registry.TransactionEnded(null);

    public Task ConnectionClosedAsync(DbConnection connection, ConnectionEndEventData eventData)
    {
        registry.TransactionEnded(null);
        return Task.CompletedTask;
    }
}
