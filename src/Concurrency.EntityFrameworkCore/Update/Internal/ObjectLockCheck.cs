using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Object locks at save time: which lock columns a save may write, and whether the lock state read from the database
///     lets it update or delete a row.
/// </summary>
internal static class ObjectLockCheck
{
    /// <summary>
    ///     The lock columns are written only when this client changed the lock itself: a stale or disconnected copy
    ///     (<c>Update(dto)</c> marks every property modified) must never silently lock or unlock the row. An unlock in the
    ///     same save (loaded locked, set unlocked) also clears the owner and lease.
    /// </summary>
    public static void PrepareLockColumns(EntityEntry entry, ObjectLockMetadata metadata)
    {
        if (entry.State != EntityState.Modified)
        {
            return;
        }

        var isLocked = entry.Property(metadata.IsLocked);
        var loaded = (bool)isLocked.OriginalValue!;
        var wanted = (bool)isLocked.CurrentValue!;
        if (loaded == wanted)
        {
            foreach (var property in metadata.Properties)
            {
                var column = entry.Property(property);
                if (column.IsModified)
                {
                    column.IsModified = false;
                }
            }
        }
        else if (!wanted)
        {
            foreach (var property in metadata.Properties)
            {
                if (property != metadata.IsLocked)
                {
                    entry.Property(property).CurrentValue = null;
                }
            }
        }
    }

    /// <summary>
    ///     Refuses the save when a row it updates or deletes is locked in the database by someone else. Allowed: rows not
    ///     locked (or whose lease ran out), the lock's owner, and an unlock in the same save of a lock without an owner.
    /// </summary>
    public static void Check(IReadOnlyList<(EntityEntry Entry, ObjectLockMetadata Metadata)> locks, ObjectLockState?[] states)
    {
        var now = DateTimeOffset.UtcNow;
        var owner = ObjectLockOwner.Current;
        for (var i = 0; i < locks.Count; i++)
        {
            if (states[i] is not { } state || !state.IsHeldAt(now))
            {
                continue; // a row that is gone is left to the version check (or EF's own) to report
            }

            var (entry, metadata) = locks[i];
            if (metadata.LockedBy is not null && state.LockedBy is not null && state.LockedBy == owner)
            {
                continue;
            }

            var isLocked = entry.Property(metadata.IsLocked);
            var unlocksHere = entry.State == EntityState.Modified && (bool)isLocked.OriginalValue! && !(bool)isLocked.CurrentValue!;
            if (unlocksHere && state.LockedBy is null)
            {
                continue;
            }

            throw new ObjectLockedException(
                entry,
                metadata.Describe(entry),
                metadata.KeyOf(entry),
                state,
                entry.State == EntityState.Deleted ? "deleted" : "updated");
        }
    }
}
