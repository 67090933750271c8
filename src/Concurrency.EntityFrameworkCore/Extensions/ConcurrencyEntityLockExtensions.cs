using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Named locks on one entity, django-cache-lock's <c>lock_model</c>: the lock's name is built from the entity's type
///     and key (or another property's value), e.g. <c>entity:Blog.Article(Id=5)</c>, so <c>Article 5</c> and
///     <c>Comment 5</c> are different locks and every process locking the same row meets on the same lock. The entity
///     need not be tracked or even exist in the database. A tracked entity that exists is reloaded once the lock is held,
///     so the caller works on the values the previous holder left. See docs/named-locks.md.
/// </summary>
// RS0026: each operation has a by-key and a by-property overload with the same optional parameters (issue 12's contract).
// CA1068: `reload` comes after the cancellation token so that issue 12's contract, AcquireLockAsync(entity, timeout,
// cancellationToken), also compiles when called positionally; `reload: false` is meant to be passed by name.
#pragma warning disable RS0026, CA1068
public static class ConcurrencyEntityLockExtensions
{
    /// <summary>Acquires the lock of <paramref name="entity" /> (its entity type and primary key), waiting until it is free or the timeout passes.</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="timeout">How long to wait. Defaults to null: until the lock is free.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded from the database once the lock is held. Defaults to true.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled wait leaves nothing held.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static async Task<NamedLockHandle> AcquireLockAsync<TEntity>(
        this DbContext context,
        TEntity entity,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default,
        bool reload = true)
        where TEntity : class
        => (await NamedLockRunner.AcquireEntityAsync(context, entity, null, timeout, reload, orThrow: true, async: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Acquires the lock of <paramref name="entity" /> by the value of one property (e.g. <c>by: a => a.Slug</c>), waiting until it is free or the timeout passes.</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="by">The mapped property whose value names the lock.</param>
    /// <param name="timeout">How long to wait. Defaults to null: until the lock is free.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded from the database once the lock is held. Defaults to true.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled wait leaves nothing held.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static async Task<NamedLockHandle> AcquireLockAsync<TEntity>(
        this DbContext context,
        TEntity entity,
        Expression<Func<TEntity, object?>> by,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default,
        bool reload = true)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(by);
        return (await NamedLockRunner.AcquireEntityAsync(context, entity, by, timeout, reload, orThrow: true, async: true, cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Acquires the lock of <paramref name="entity" /> by type and key (the synchronous twin).</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="timeout">How long to wait. Defaults to null: until the lock is free.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static NamedLockHandle AcquireLock<TEntity>(this DbContext context, TEntity entity, TimeSpan? timeout = null, bool reload = true)
        where TEntity : class
        => NamedLockRunner.AcquireEntityAsync(context, entity, null, timeout, reload, orThrow: true, async: false, CancellationToken.None).GetAwaiter().GetResult()!;

    /// <summary>Acquires the lock of <paramref name="entity" /> by the value of one property (the synchronous twin).</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="by">The mapped property whose value names the lock.</param>
    /// <param name="timeout">How long to wait. Defaults to null: until the lock is free.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static NamedLockHandle AcquireLock<TEntity>(
        this DbContext context,
        TEntity entity,
        Expression<Func<TEntity, object?>> by,
        TimeSpan? timeout = null,
        bool reload = true)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(by);
        return NamedLockRunner.AcquireEntityAsync(context, entity, by, timeout, reload, orThrow: true, async: false, CancellationToken.None).GetAwaiter().GetResult()!;
    }

    /// <summary>Acquires the lock of <paramref name="entity" /> by type and key if it can be had within <paramref name="timeout" />; null otherwise.</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="timeout">How long to wait. Defaults to zero: do not wait.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static Task<NamedLockHandle?> TryAcquireLockAsync<TEntity>(
        this DbContext context,
        TEntity entity,
        TimeSpan timeout = default,
        CancellationToken cancellationToken = default,
        bool reload = true)
        where TEntity : class
        => NamedLockRunner.AcquireEntityAsync(context, entity, null, timeout, reload, orThrow: false, async: true, cancellationToken);

    /// <summary>Acquires the lock of <paramref name="entity" /> by one property's value if it can be had within <paramref name="timeout" />; null otherwise.</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="by">The mapped property whose value names the lock.</param>
    /// <param name="timeout">How long to wait. Defaults to zero: do not wait.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static Task<NamedLockHandle?> TryAcquireLockAsync<TEntity>(
        this DbContext context,
        TEntity entity,
        Expression<Func<TEntity, object?>> by,
        TimeSpan timeout = default,
        CancellationToken cancellationToken = default,
        bool reload = true)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(by);
        return NamedLockRunner.AcquireEntityAsync(context, entity, by, timeout, reload, orThrow: false, async: true, cancellationToken);
    }

    /// <summary>Acquires the lock of <paramref name="entity" /> by type and key if it can be had within <paramref name="timeout" /> (the synchronous twin).</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="timeout">How long to wait. Defaults to zero: do not wait.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static NamedLockHandle? TryAcquireLock<TEntity>(this DbContext context, TEntity entity, TimeSpan timeout = default, bool reload = true)
        where TEntity : class
        => NamedLockRunner.AcquireEntityAsync(context, entity, null, timeout, reload, orThrow: false, async: false, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Acquires the lock of <paramref name="entity" /> by one property's value if it can be had within <paramref name="timeout" /> (the synchronous twin).</summary>
    /// <typeparam name="TEntity">The entity's type.</typeparam>
    /// <param name="context">The context whose model describes the entity and whose database holds the lock.</param>
    /// <param name="entity">The entity, tracked or not.</param>
    /// <param name="by">The mapped property whose value names the lock.</param>
    /// <param name="timeout">How long to wait. Defaults to zero: do not wait.</param>
    /// <param name="reload">Whether a tracked entity that exists is reloaded once the lock is held. Defaults to true.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static NamedLockHandle? TryAcquireLock<TEntity>(
        this DbContext context,
        TEntity entity,
        Expression<Func<TEntity, object?>> by,
        TimeSpan timeout = default,
        bool reload = true)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(by);
        return NamedLockRunner.AcquireEntityAsync(context, entity, by, timeout, reload, orThrow: false, async: false, CancellationToken.None).GetAwaiter().GetResult();
    }
}
