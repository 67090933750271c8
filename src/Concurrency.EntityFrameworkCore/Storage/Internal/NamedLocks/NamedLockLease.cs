using System.Data.Common;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>What a <see cref="NamedLockHandle" /> holds: one lock of one provider, released once.</summary>
internal abstract class NamedLockLease
{
    /// <summary>Cancelled when the lock is lost before it is released; <see cref="CancellationToken.None" /> where that cannot happen.</summary>
    public virtual CancellationToken LostToken
        => CancellationToken.None;

    /// <summary>Whether the lock is held by the context's connection (PostgreSQL), and so ends when that connection closes.</summary>
    public virtual bool LivesOnConnection
        => false;

    /// <summary>Whether a release could not be sent yet (the application's transaction had failed) and waits for it to end.</summary>
    public virtual bool ReleasePending
        => false;

    /// <summary>Releases the lock; never throws for a lock that was already lost. Called at most once.</summary>
    public abstract ValueTask ReleaseAsync(bool async);

    /// <summary>
    ///     The context lets go of the lock without its handle: its connection is closing or being disposed, or the context
    ///     is reset for another user of a context pool. Releases the lock on <paramref name="connection" /> (or the
    ///     context's, while it is open) without touching the context's bookkeeping, and, when the handle has not been
    ///     disposed, signals the loss through <see cref="LostToken" />. A later dispose of the handle does nothing.
    /// </summary>
    public virtual ValueTask AbandonAsync(DbConnection? connection, bool async)
        => ReleaseAsync(async);
}
