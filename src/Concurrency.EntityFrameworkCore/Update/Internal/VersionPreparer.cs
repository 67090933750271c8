using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Sets the checked (original) and written (current) version of every added and modified versioned entry before EF
///     builds its commands, so the new version travels in the same UPDATE whose WHERE checks the old one; and collects
///     what must first be read from the database (<see cref="PreSaveReads" />).
/// </summary>
internal static class VersionPreparer
{
    /// <summary>Prepares every pending entry of <paramref name="context" />.</summary>
    public static void Prepare(DbContext context, SaveSession session)
    {
        var scopeActive = DisableConcurrency.IsActive;
        var lockable = VersionedModel.Get(context.Model).HasObjectLocks;
        PreSaveReads? reads = null;
        List<EntityEntry>? ownedChanges = null;

        // Entries() runs DetectChanges first when it is enabled and not already running, so entity states are current.
        foreach (var entry in context.ChangeTracker.Entries())
        {
            var state = entry.State;
            if (state is EntityState.Unchanged or EntityState.Detached)
            {
                continue;
            }

            if (lockable && state is (EntityState.Modified or EntityState.Deleted) && ObjectLockMetadata.Find(entry.Metadata) is { } lockMetadata)
            {
                ObjectLockCheck.PrepareLockColumns(entry, lockMetadata);
                (reads ??= new PreSaveReads()).Locks.Add((entry, lockMetadata));
            }

            if (lockable && DerivedLockMetadata.Find(entry.Metadata) is { } derived)
            {
                (reads ??= new PreSaveReads()).Derived.Add((entry, derived));
            }

            var metadata = VersionFieldMetadata.Find(entry.Metadata);
            if (metadata is null)
            {
                if (entry.Metadata.IsOwned())
                {
                    (ownedChanges ??= []).Add(entry);
                }

                continue;
            }

            if (state == EntityState.Added)
            {
                PrepareInsert(entry, metadata);
                continue;
            }

            if (scopeActive && DisableConcurrency.IsDisabledFor(entry.Metadata.ClrType))
            {
                (reads ??= new PreSaveReads()).Disabled.Add((entry, metadata));
                continue;
            }

            var property = entry.Property(metadata.Property);
            var original = property.OriginalValue;
            var current = property.CurrentValue;
            var expected = session.Loaded.ExpectedVersion(entry.Entity, metadata.ToLong(original), metadata.ToLong(current));
            Apply(session, entry, metadata, property, expected, original, current);
        }

        if (ownedChanges is not null)
        {
            reads = OwnedVersionSharing.Apply(context, session, ownedChanges, reads);
        }

        session.PendingReads = reads;
    }

    /// <summary>
    ///     An insert starts at version 1; a positive version set by the application (an import) is kept. Trigger versions
    ///     below 1 are left to the column's default (1).
    /// </summary>
    private static void PrepareInsert(EntityEntry entry, VersionFieldMetadata metadata)
    {
        var version = entry.Property(metadata.Property);
        if (metadata.ToLong(version.CurrentValue) > 0)
        {
            return;
        }

        version.CurrentValue = metadata.FromLong(metadata.Kind == VersionFieldKind.Trigger ? 0 : 1);
    }

    /// <summary>Checks against <paramref name="expected" /> and writes the next version, remembering the old values.</summary>
    public static void Apply(SaveSession session, EntityEntry entry, VersionFieldMetadata metadata, PropertyEntry property, long expected)
        => Apply(session, entry, metadata, property, expected, property.OriginalValue, property.CurrentValue);

    private static void Apply(
        SaveSession session,
        EntityEntry entry,
        VersionFieldMetadata metadata,
        PropertyEntry property,
        long expected,
        object? previousOriginal,
        object? previousCurrent)
    {
        var changed = false;
        if (metadata.ToLong(previousOriginal) != expected)
        {
            property.OriginalValue = metadata.FromLong(expected);
            changed = true;
        }

        if (entry.State == EntityState.Modified)
        {
            var next = metadata.Kind switch
            {
                VersionFieldKind.Integer => metadata.Next(entry, expected),
                VersionFieldKind.Conditional when WatchedPropertyChanged(entry, metadata) => metadata.Next(entry, expected),
                _ => expected, // trigger versions are bumped by the database; unwatched changes keep the version
            };

            if (metadata.ToLong(previousCurrent) != next)
            {
                if (metadata.ClrSetter is { } setter)
                {
                    // Written like an application bumping its own token (no boxing, no change notification), then
                    // marked modified so the UPDATE writes it whether or not another DetectChanges follows.
                    setter(entry.Entity, next);
                    property.IsModified = true;
                }
                else
                {
                    property.CurrentValue = metadata.FromLong(next);
                }

                changed = true;
            }
        }

        if (changed)
        {
            session.Changes.Add(property, metadata, previousOriginal, previousCurrent);
        }
    }

    private static bool WatchedPropertyChanged(EntityEntry entry, VersionFieldMetadata metadata)
    {
        foreach (var watched in metadata.WatchedProperties)
        {
            if (entry.Property(watched).IsModified)
            {
                return true;
            }
        }

        return false;
    }
}
