using System.Data.Common;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Guards every command of a locking query (<c>ForUpdate()</c> and its siblings), whatever the provider: refuses it
///     outside a transaction (a lock that ends with the statement protects nothing), refuses it when the lock was not
///     rendered into the SQL on a database that needs it (never silently unlocked), and turns the database's "lock not
///     available" and "deadlock" errors into <see cref="RowLockNotAvailableException" /> and
///     <see cref="DeadlockDetectedException" />. Commands without the row-lock tag pass untouched.
/// </summary>
internal sealed class RowLockCommandInterceptor(DatabaseDialect dialect) : DbCommandInterceptor
{
    public override InterceptionResult<DbDataReader> ReaderExecuting(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<DbDataReader> result)
    {
        Check(command);
        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken = default)
    {
        Check(command);
        return ValueTask.FromResult(result);
    }

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData)
        => Translate(command, eventData.Exception);

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Translate(command, eventData.Exception);
        return Task.CompletedTask;
    }

    private void Check(DbCommand command)
    {
        if (RowLockRequest.FindInCommandText(command.CommandText, out var rendered) is not { } request)
        {
            return;
        }

        if (!rendered && !dialect.TransactionLocksRows)
        {
            throw new InvalidOperationException(
                $"The query on '{request.EntityName}' asks for a row lock ({request.Operator}), but nothing rendered it into the SQL,"
                + " so it would run unlocked. On PostgreSQL, install Concurrency.EntityFrameworkCore.PostgreSQL and call UseRowLocks()"
                + " after UseConcurrency(): options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks().");
        }

        if (command.Transaction is null && System.Transactions.Transaction.Current is null)
        {
            throw new InvalidOperationException(
                $"The query on '{request.EntityName}' takes a row lock ({request.Operator}) but runs outside a transaction, where the"
                + " lock would end with the statement and protect nothing. Call context.Database.BeginTransaction() (or"
                + " BeginTransactionAsync) first, and commit after SaveChanges.");
        }
    }

    /// <summary>Throws the mapped exception in place of the database's; EF then surfaces it from the query.</summary>
    private void Translate(DbCommand command, Exception exception)
    {
        if (exception is not DbException dbException
            || RowLockRequest.FindInCommandText(command.CommandText, out _) is not { } request)
        {
            return;
        }

        switch (dialect.ClassifyRowLockError(dbException))
        {
            case RowLockFailure.NotAvailable:
                throw new RowLockNotAvailableException(
                    $"The rows of '{request.EntityName}' could not be locked ({request.Operator}, {request.WaitDescription}): another"
                    + " transaction holds them. Retry later (RetryOnConflictAsync retries this), or use RowLockWait.SkipLocked to"
                    + " take other rows." + (dialect.TransactionLocksRows ? "" : " The failed statement aborted the transaction: roll it back."),
                    dbException);
            case RowLockFailure.Deadlock:
                throw new DeadlockDetectedException(
                    $"Locking the rows of '{request.EntityName}' ({request.Operator}) deadlocked with another transaction, and the database"
                    + " aborted this one. Roll it back and run the unit of work again (RetryOnConflictAsync retries this); locking rows in"
                    + " a consistent order (OrderBy the key) avoids deadlocks.",
                    dbException);
        }
    }
}
