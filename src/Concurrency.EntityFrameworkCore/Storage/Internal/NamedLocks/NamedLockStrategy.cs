using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>One acquisition: which lock, on which context, and how long to wait (null: until it is free; zero: not at all).</summary>
internal sealed record LockRequest(DbContext Context, string Name, long Key, TimeSpan? Timeout, NamedLockRegistry Registry);

/// <summary>
///     How one database provider takes named locks (<see cref="PostgresNamedLocks" />: advisory locks;
///     <see cref="SqliteNamedLocks" />: OS file locks). The flow around it (validation, re-entrancy, timeouts turned into
///     <see cref="LockTimeoutException" />, entity names, reloads) is shared in <see cref="NamedLockRunner" />.
/// </summary>
internal abstract class NamedLockStrategy
{
    /// <summary>A session lock held until the returned handle is disposed; null when the wait ran out.</summary>
    public abstract Task<NamedLockHandle?> AcquireAsync(LockRequest request, bool async, CancellationToken cancellationToken);

    /// <summary>A lock held until the context's current transaction ends; its fencing token, or null when the wait ran out.</summary>
    public abstract Task<long?> AcquireTransactionAsync(LockRequest request, bool async, CancellationToken cancellationToken);
}
