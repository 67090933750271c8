using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Storage.Internal;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Locks and unlocks lockable entities (see <see cref="ILockable" />) in the database.</summary>
public static class ConcurrencyObjectLockExtensions
{
    /// <summary>
    ///     Locks <paramref name="entity" /> in the database: from now on SaveChanges refuses to update or delete it (except
    ///     for the lock's owner, when the entity records one), until it is unlocked or its lease runs out.
    /// </summary>
    /// <remarks>
    ///     An atomic conditional update: the row is read and written under its row lock in one short transaction (the
    ///     application's transaction, if one is active), so of two clients locking at once exactly one succeeds. It writes
    ///     only the lock columns, bumps the version as any change of the row does, and leaves other pending changes of the
    ///     context unsaved. The owner is <see cref="ObjectLockOwner.Current" />. The tracked entity is refreshed with the
    ///     new lock state (and version, when its copy was current).
    /// </remarks>
    /// <param name="context">The context; the entity is tracked if it was not.</param>
    /// <param name="entity">A lockable entity that exists in the database.</param>
    /// <param name="lease">How long the lock lasts, or <see langword="null" /> for a lock that lasts until unlocked. Defaults to <see langword="null" />.</param>
    /// <param name="cancellationToken">Cancels the commands.</param>
    /// <returns>The lock as written.</returns>
    /// <exception cref="ObjectAlreadyLockedException">The entity is already locked (by anyone) and its lease has not run out.</exception>
    /// <exception cref="ArgumentException">A lease was given but the entity type has no lease property (<c>ParamName</c> is <c>lease</c>).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The lease is zero or negative.</exception>
    /// <exception cref="InvalidOperationException">The entity type is not lockable, or the row does not exist.</exception>
    public static Task<ObjectLockState> LockAsync(this DbContext context, object entity, TimeSpan? lease = null, CancellationToken cancellationToken = default)
        => ObjectLockCommands.ChangeAsync(context, entity, lockIt: true, lease, force: false, async: true, cancellationToken);

    /// <inheritdoc cref="LockAsync" />
    public static ObjectLockState Lock(this DbContext context, object entity, TimeSpan? lease = null)
        => ObjectLockCommands.ChangeAsync(context, entity, lockIt: true, lease, force: false, async: false, CancellationToken.None)
            .GetAwaiter().GetResult();

    /// <summary>
    ///     Unlocks <paramref name="entity" /> in the database. A lock held by another owner is only released with
    ///     <paramref name="force" /> (an administrator's override).
    /// </summary>
    /// <remarks>An atomic conditional update, like <see cref="LockAsync" />.</remarks>
    /// <param name="context">The context; the entity is tracked if it was not.</param>
    /// <param name="entity">A lockable entity that exists in the database.</param>
    /// <param name="force">Release the lock even when someone else owns it. Defaults to <see langword="false" />.</param>
    /// <param name="cancellationToken">Cancels the commands.</param>
    /// <returns>The lock as written (unlocked).</returns>
    /// <exception cref="ObjectAlreadyUnlockedException">The entity is not locked, or its lease has run out.</exception>
    /// <exception cref="ObjectLockedException">Someone else owns the lock and <paramref name="force" /> is <see langword="false" />.</exception>
    /// <exception cref="InvalidOperationException">The entity type is not lockable, or the row does not exist.</exception>
    public static Task<ObjectLockState> UnlockAsync(this DbContext context, object entity, bool force = false, CancellationToken cancellationToken = default)
        => ObjectLockCommands.ChangeAsync(context, entity, lockIt: false, lease: null, force, async: true, cancellationToken);

    /// <summary>
    ///     Whether the entity type has an object lock of its own (<see cref="ILockable" /> or <c>HasObjectLock</c>), so it
    ///     can be locked and unlocked; a lock derived from a principal (<c>HasObjectLockFrom</c>) does not count.
    /// </summary>
    /// <param name="entityType">An entity type of a model built with <c>UseConcurrency()</c>.</param>
    /// <returns><see langword="true" /> for lockable entity types.</returns>
    public static bool IsLockable(this Metadata.IEntityType entityType)
    {
        ArgumentNullException.ThrowIfNull(entityType);
        return Concurrency.EntityFrameworkCore.Metadata.Internal.ObjectLockMetadata.Find(entityType) is not null;
    }

    /// <summary>
    ///     Whether the entity, as loaded, is locked against the current owner (<see cref="ObjectLockOwner.Current" />): its
    ///     lock is set, its lease has not run out, and it is not held by the current owner. A check of the loaded copy, for
    ///     an early answer (an HTTP 409 before any work); SaveChanges checks the row itself.
    /// </summary>
    /// <param name="entry">The entry of a lockable entity.</param>
    /// <returns><see langword="true" /> when a save of this entity would be refused as things stand.</returns>
    /// <exception cref="InvalidOperationException">The entity type is not lockable.</exception>
    public static bool IsLockedAgainstCurrentOwner(this ChangeTracking.EntityEntry entry)
    {
        var metadata = Concurrency.EntityFrameworkCore.Metadata.Internal.ObjectLockMetadata.Require(entry);
        var state = metadata.LoadedState(entry);
        return state.IsHeldAt(DateTimeOffset.UtcNow)
            && !(metadata.LockedBy is not null && state.LockedBy is not null && state.LockedBy == ObjectLockOwner.Current);
    }

    /// <inheritdoc cref="UnlockAsync" />
    public static ObjectLockState Unlock(this DbContext context, object entity, bool force = false)
        => ObjectLockCommands.ChangeAsync(context, entity, lockIt: false, lease: null, force, async: false, CancellationToken.None)
            .GetAwaiter().GetResult();
}
