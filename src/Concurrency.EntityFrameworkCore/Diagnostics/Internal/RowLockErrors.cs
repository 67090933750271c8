using System.Data.Common;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Turns the database's "lock not available" and "deadlock" errors of a locking query into
///     <see cref="RowLockNotAvailableException" /> and <see cref="DeadlockDetectedException" />, with a message naming the
///     entity and the fix: whether the error came when the command started (<c>CommandFailed</c>) or while its rows were
///     read (<see cref="RowLockDataReader" />).
/// </summary>
internal static class RowLockErrors
{
    /// <summary>The exception to throw in place of <paramref name="exception" />; null when it is not a lock error.</summary>
    public static Exception? Translate(DatabaseDialect dialect, RowLockRequest request, DbException exception)
        => dialect.ClassifyRowLockError(exception) switch
        {
            RowLockFailure.NotAvailable => new RowLockNotAvailableException(
                $"The rows of '{request.EntityName}' could not be locked ({request.Operator}, {request.WaitDescription}): another"
                + " transaction holds them. Retry later (RetryOnConflictAsync retries this), or use RowLockWait.SkipLocked to"
                + " take other rows." + (dialect.TransactionLocksRows ? "" : " The failed statement aborted the transaction: roll it back."),
                exception),
            RowLockFailure.Deadlock => new DeadlockDetectedException(
                $"Locking the rows of '{request.EntityName}' ({request.Operator}) deadlocked with another transaction, and the database"
                + " aborted this one. Roll it back and run the unit of work again (RetryOnConflictAsync retries this); locking rows in"
                + " a consistent order (OrderBy the key) avoids deadlocks.",
                exception),
            _ => null,
        };
}
