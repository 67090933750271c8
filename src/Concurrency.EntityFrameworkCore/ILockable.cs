namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     Marks an entity that can be locked against edits (the django-object-lock model): while <see cref="IsLocked" /> is
///     <see langword="true" /> in the database, SaveChanges refuses to update or delete it with
///     <see cref="ObjectLockedException" />. Lock and unlock with <c>context.LockAsync(entity)</c> and
///     <c>context.UnlockAsync(entity)</c>.
/// </summary>
/// <remarks>
///     The implementing class declares a mapped, settable <c>bool IsLocked</c> property. To use a property of another
///     name, or a class you cannot change, configure it with <c>HasObjectLock</c> instead.
/// </remarks>
public interface ILockable
{
    /// <summary>Whether the entity is locked against edits.</summary>
    bool IsLocked { get; }
}

/// <summary>
///     A lockable entity whose lock has an owner and an optional lease: the owner may keep editing while others are
///     refused, an expired lease counts as unlocked, and unlocking someone else's lock needs an explicit override.
/// </summary>
/// <remarks>
///     The owner is taken from <see cref="ObjectLockOwner.Current" /> when locking, and compared with it when saving.
///     The implementing class declares mapped, settable properties of these names.
/// </remarks>
public interface ILeasedLockable : ILockable
{
    /// <summary>Who holds the lock, or <see langword="null" /> when unlocked (or locked without an owner).</summary>
    string? LockedBy { get; }

    /// <summary>When the lock was taken (UTC).</summary>
    DateTimeOffset? LockedAt { get; }

    /// <summary>When the lock's lease runs out (UTC), or <see langword="null" /> for a lock without a lease.</summary>
    DateTimeOffset? LockExpiresAt { get; }
}
