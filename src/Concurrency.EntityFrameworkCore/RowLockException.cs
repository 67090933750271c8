using System.Data.Common;

namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A locking query (<c>ForUpdate()</c> and its siblings) failed because of another transaction's locks:
///     <see cref="RowLockNotAvailableException" /> or <see cref="DeadlockDetectedException" />. Catch this type to handle
///     both; <c>RetryOnConflictAsync</c> retries both.
/// </summary>
public abstract class RowLockException : DbException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What could not be locked, and why.</param>
    /// <param name="innerException">The database's error.</param>
    protected RowLockException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The SQLSTATE of the database's error (55P03 or 40P01 on PostgreSQL; null on SQLite).</summary>
    public override string? SqlState
        => (InnerException as DbException)?.SqlState;
}
