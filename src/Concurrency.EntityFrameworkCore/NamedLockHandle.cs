using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A named lock held by this process, from <c>context.Database.AcquireLockAsync(name)</c> or
///     <c>context.AcquireLockAsync(entity)</c>: nobody else (another context, thread or process on the same database) holds
///     the same name until it is disposed. Disposing releases the lock; disposing twice is harmless, and releasing a lock
///     that was lost (its connection died) never throws. Dispose it before the context it was acquired with; a handle its
///     context outlived was let go with the context's connection (see docs/named-locks.md).
/// </summary>
public sealed class NamedLockHandle : IAsyncDisposable, IDisposable
{
    private readonly NamedLockLease _lease;
    private int _disposed;

    internal NamedLockHandle(string name, long fencingToken, NamedLockLease lease)
    {
        Name = name;
        FencingToken = fencingToken;
        _lease = lease;
    }

    /// <summary>What holds the lock.</summary>
    internal NamedLockLease Lease
        => _lease;

    /// <summary>The name of the lock (for an entity lock, the name built from its type and key, e.g. <c>entity:Blog.Article(Id=5)</c>).</summary>
    public string Name { get; }

    /// <summary>
    ///     A number that is larger for every later acquisition of the same name, across processes and restarts of the
    ///     application (a database sequence on PostgreSQL, a counter table on SQLite). Pass it to the protected write and let
    ///     the database reject a write whose token is older than the last one seen (<c>WHERE last_token &lt; @token</c>),
    ///     so a holder that was paused past the loss of its lock cannot overwrite the work of the next holder.
    /// </summary>
    public long FencingToken { get; }

    /// <summary>
    ///     Cancelled when the lock is known to be lost before it was released: on PostgreSQL, when the session holding it is
    ///     gone (its connection was terminated or broke), noticed within about a second by a check that starts the first
    ///     time this property is read. Never cancelled on SQLite, where a lock cannot be lost while the process lives.
    /// </summary>
    public CancellationToken HandleLostToken
        => _lease.LostToken;

    /// <summary>Releases the lock. Harmless when called again or when the lock was lost.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _lease.ReleaseAsync(async: false).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Releases the lock. Harmless when called again or when the lock was lost.</summary>
    /// <returns>A task that completes when the lock is released.</returns>
    public ValueTask DisposeAsync()
        => Interlocked.Exchange(ref _disposed, 1) == 0 ? _lease.ReleaseAsync(async: true) : ValueTask.CompletedTask;
}
