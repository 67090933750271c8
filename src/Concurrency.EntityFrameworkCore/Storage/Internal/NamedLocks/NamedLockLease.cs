namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>What a <see cref="NamedLockHandle" /> holds: one lock of one provider, released once.</summary>
internal abstract class NamedLockLease
{
    /// <summary>Cancelled when the lock is lost before it is released; <see cref="CancellationToken.None" /> where that cannot happen.</summary>
    public virtual CancellationToken LostToken
        => CancellationToken.None;

    /// <summary>Releases the lock; never throws for a lock that was already lost. Called at most once.</summary>
    public abstract ValueTask ReleaseAsync(bool async);
}
