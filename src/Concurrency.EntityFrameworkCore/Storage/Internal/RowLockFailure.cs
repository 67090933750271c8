namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>What a database error of a locking query means.</summary>
internal enum RowLockFailure
{
    /// <summary>Something else: the error passes through unchanged.</summary>
    None,

    /// <summary>The lock could not be had (NOWAIT, lock timeout, SQLite busy): <see cref="RowLockNotAvailableException" />.</summary>
    NotAvailable,

    /// <summary>Deadlock: <see cref="DeadlockDetectedException" />.</summary>
    Deadlock,
}
