using System.Data.Common;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Follows the context's transactions for <see cref="TransactionVersionLog" />: a commit keeps the versions saved in
///     it, a rollback (or a failed commit) restores the versions the entities had before.
/// </summary>
internal sealed class VersionTransactionInterceptor(SaveSession session) : DbTransactionInterceptor
{
    public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        session.Transactions.Begun(result);
        return result;
    }

    public override ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection,
        TransactionEndEventData eventData,
        DbTransaction result,
        CancellationToken cancellationToken = default)
    {
        session.Transactions.Begun(result);
        return ValueTask.FromResult(result);
    }

    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData)
        => session.Transactions.Committed(transaction);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        session.Transactions.Committed(transaction);
        return Task.CompletedTask;
    }

    public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData)
        => session.Transactions.RolledBack(transaction, session.Loaded);

    public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        session.Transactions.RolledBack(transaction, session.Loaded);
        return Task.CompletedTask;
    }

    public override void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData)
        => session.Transactions.RolledBack(transaction, session.Loaded);

    public override Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        session.Transactions.RolledBack(transaction, session.Loaded);
        return Task.CompletedTask;
    }
}
