namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     What a locking query (<c>ForUpdate()</c>, <c>ForNoKeyUpdate()</c>, <c>ForShare()</c>, <c>ForKeyShare()</c>) does
///     when another transaction holds a conflicting lock on a row it reads.
/// </summary>
public enum RowLockWait
{
    /// <summary>Wait until the other transaction commits or rolls back (PostgreSQL's default).</summary>
    Block,

    /// <summary>Fail at once with <see cref="RowLockNotAvailableException" /> (PostgreSQL <c>NOWAIT</c>).</summary>
    NoWait,

    /// <summary>Leave locked rows out of the result (PostgreSQL <c>SKIP LOCKED</c>): the work-queue pattern.</summary>
    SkipLocked,
}
