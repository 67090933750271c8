namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A locking query could not lock its rows: another transaction holds them and the query was told not to wait
///     (<see cref="RowLockWait.NoWait" />), or not longer than its timeout (PostgreSQL SQLSTATE 55P03), or SQLite's
///     database is locked by another writer. The message names the entity type and the wait mode or the timeout.
/// </summary>
/// <remarks>
///     <c>RetryOnConflictAsync</c> retries it: the other transaction usually ends soon. On PostgreSQL the failed statement
///     aborts the transaction it ran in; roll it back (or back to a savepoint) before using it again.
/// </remarks>
public sealed class RowLockNotAvailableException : RowLockException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What could not be locked, and how long was waited.</param>
    /// <param name="innerException">The database's error.</param>
    public RowLockNotAvailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
