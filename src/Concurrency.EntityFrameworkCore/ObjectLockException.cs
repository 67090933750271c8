using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore;

/// <summary>The base of the object-lock errors: which entity, and who holds its lock until when.</summary>
/// <remarks>
///     Derives from <see cref="DbUpdateException" /> (not from <see cref="DbUpdateConcurrencyException" />): a locked object
///     is not a race that a retry can win, so <c>RetryOnConflictAsync</c> does not retry it.
/// </remarks>
public abstract class ObjectLockException : DbUpdateException
{
    private protected ObjectLockException(string message, EntityEntry entry, string entityDescription, IReadOnlyDictionary<string, object?> key, ObjectLockState state)
        : base(message, [entry])
    {
        EntityType = entry.Metadata.ClrType;
        EntityDescription = entityDescription;
        Key = key;
        LockedBy = state.LockedBy;
        LockedAt = state.LockedAt;
        LockExpiresAt = state.LockExpiresAt;
    }

    /// <summary>The entity's CLR type.</summary>
    public Type EntityType { get; }

    /// <summary>The entity and its key, for example <c>Article(Id=5)</c>.</summary>
    public string EntityDescription { get; }

    /// <summary>The primary key values by property name.</summary>
    public IReadOnlyDictionary<string, object?> Key { get; }

    /// <summary>Who holds the lock, when the entity's lock has an owner and one was recorded.</summary>
    public string? LockedBy { get; }

    /// <summary>When the lock was taken, when recorded.</summary>
    public DateTimeOffset? LockedAt { get; }

    /// <summary>When the lock's lease runs out, for a lock with a lease.</summary>
    public DateTimeOffset? LockExpiresAt { get; }

    private protected static string Holder(ObjectLockState state)
        => (state.LockedBy is null ? string.Empty : $" by '{state.LockedBy}'")
            + (state.LockExpiresAt is { } until ? $" until {until:u}" : string.Empty);
}

/// <summary>
///     Thrown by SaveChanges when it would update or delete an entity that is locked in the database by someone else
///     (checked against the row at save time, not against the copy that was loaded). Nothing of that SaveChanges was written.
/// </summary>
public sealed class ObjectLockedException : ObjectLockException
{
    internal ObjectLockedException(EntityEntry entry, string entityDescription, IReadOnlyDictionary<string, object?> key, ObjectLockState state, string action)
        : base(
            $"{entityDescription} is locked{Holder(state)}, so it cannot be {action}. Nothing of this SaveChanges was written. "
            + (state.LockedBy is null
                ? "Unlock it first (context.UnlockAsync), or set its lock property to false in the same save."
                : "Wait until the owner unlocks it or the lease runs out, or unlock it with context.UnlockAsync(entity, force: true)."),
            entry,
            entityDescription,
            key,
            state)
    {
    }

    /// <summary>For an entity whose lock is derived from a locked principal (<c>HasObjectLockFrom</c>).</summary>
    internal ObjectLockedException(
        EntityEntry entry,
        string entityDescription,
        IReadOnlyDictionary<string, object?> key,
        string principalDescription,
        ObjectLockState state,
        string action)
        : base(
            $"{entityDescription} cannot be {action}: {principalDescription} is locked{Holder(state)}, and {entityDescription} shares"
            + " its lock (HasObjectLockFrom). Nothing of this SaveChanges was written. Unlock the principal first, or wait until"
            + " its owner does.",
            entry,
            entityDescription,
            key,
            state)
        => LockedThrough = principalDescription;

    /// <summary>
    ///     For a lock derived from a principal (<c>HasObjectLockFrom</c>): the locked principal, for example
    ///     <c>Article(Id=5)</c>, whose owner and lease the other properties describe; <see langword="null" /> when the
    ///     entity's own lock refused the save.
    /// </summary>
    public string? LockedThrough { get; }
}

/// <summary>Thrown by <c>LockAsync</c> when the entity is already locked (by anyone, with a lease that has not run out).</summary>
public sealed class ObjectAlreadyLockedException : ObjectLockException
{
    internal ObjectAlreadyLockedException(EntityEntry entry, string entityDescription, IReadOnlyDictionary<string, object?> key, ObjectLockState state)
        : base($"{entityDescription} is already locked{Holder(state)}.", entry, entityDescription, key, state)
    {
    }
}

/// <summary>Thrown by <c>UnlockAsync</c> when the entity is not locked (or its lease has run out).</summary>
public sealed class ObjectAlreadyUnlockedException : ObjectLockException
{
    internal ObjectAlreadyUnlockedException(EntityEntry entry, string entityDescription, IReadOnlyDictionary<string, object?> key, ObjectLockState state)
        : base($"{entityDescription} is not locked.", entry, entityDescription, key, state)
    {
    }
}

/// <summary>The lock columns of one row, as read from the database.</summary>
/// <param name="IsLocked">The lock flag.</param>
/// <param name="LockedBy">The owner, when the entity records one.</param>
/// <param name="LockedAt">When the lock was taken, when recorded.</param>
/// <param name="LockExpiresAt">When the lease runs out, when recorded.</param>
public readonly record struct ObjectLockState(bool IsLocked, string? LockedBy, DateTimeOffset? LockedAt, DateTimeOffset? LockExpiresAt)
{
    /// <summary>Whether the lock is in force at <paramref name="now" />: set, and its lease (if any) not run out.</summary>
    /// <param name="now">The current time.</param>
    /// <returns><see langword="true" /> when the entity counts as locked.</returns>
    public bool IsHeldAt(DateTimeOffset now)
        => IsLocked && !(LockExpiresAt <= now);
}
