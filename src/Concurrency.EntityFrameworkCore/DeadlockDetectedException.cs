namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A locking query was chosen as the victim of a deadlock (PostgreSQL SQLSTATE 40P01): two transactions waited for
///     each other's row locks and the database aborted this one. The message names the entity type.
/// </summary>
/// <remarks>
///     <c>RetryOnConflictAsync</c> retries it. The transaction it ran in is aborted; roll it back before using it again.
/// </remarks>
public sealed class DeadlockDetectedException : RowLockException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was being locked.</param>
    /// <param name="innerException">The database's error.</param>
    public DeadlockDetectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
