using System.Data.Common;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Ends the transaction-scoped named locks of a transaction when it commits, rolls back or fails, and when the
///     connection closes (a transaction cannot outlive it): PostgreSQL has released them itself; SQLite's file locks are
///     released here.
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

    public void ConnectionClosed(DbConnection connection, ConnectionEndEventData eventData)
        => registry.TransactionEnded(null);

    public Task ConnectionClosedAsync(DbConnection connection, ConnectionEndEventData eventData)
    {
        registry.TransactionEnded(null);
        return Task.CompletedTask;
    }
}
