using System.Globalization;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     A change of owned data is a change of the aggregate: an owned entity (<c>OwnsOne</c> in the owner's row or its own
///     table, <c>OwnsMany</c> elements) that is modified, replaced, added or removed while its versioned owner is
///     otherwise unchanged bumps and checks the owner's version. For owned entities stored in the owner's row, EF's own
///     copy of the version column (its table-sharing concurrency token) is kept equal to the owner's, so both conditions
///     of the shared UPDATE agree.
/// </summary>
internal static class OwnedVersionSharing
{
    /// <summary>
    ///     Bumps and checks the owners of <paramref name="ownedEntries" />. Inside <see cref="DisableConcurrency" /> for the
    ///     owner's type the bump only makes the owner part of the save: the owner joins <paramref name="reads" />, so its
    ///     current version is read first and written + 1 (last write wins), and its row-sharing copies are synced again
    ///     after that read.
    /// </summary>
    /// <returns><paramref name="reads" />, created when an owner had to join it.</returns>
    public static PreSaveReads? Apply(DbContext context, SaveSession session, List<EntityEntry> ownedEntries, PreSaveReads? reads)
    {
        foreach (var owned in ownedEntries)
        {
            if (FindVersionedOwner(context, owned) is not var (owner, metadata))
            {
                continue;
            }

            var version = owner.Property(metadata.Property);
            var ownerSaved = owner.State is EntityState.Unchanged or EntityState.Modified;
            var disabled = ownerSaved && DisableConcurrency.IsActive && DisableConcurrency.IsDisabledFor(owner.Metadata.ClrType);
            if (ownerSaved && metadata.OwnedChangesBump && !session.Changes.Contains(owner.Entity))
            {
                var expected = session.Loaded.ExpectedVersion(
                    owner.Entity,
                    metadata.ToLong(version.OriginalValue),
                    metadata.ToLong(version.CurrentValue));
                var previousOriginal = version.OriginalValue;
                var previousCurrent = version.CurrentValue;
                version.OriginalValue = metadata.FromLong(expected);
                version.CurrentValue = metadata.FromLong(metadata.Next(owner, expected));
                session.Changes.Add(version, metadata, previousOriginal, previousCurrent);
            }

            if (disabled)
            {
                reads ??= new PreSaveReads();
                if (!reads.Disabled.Exists(d => ReferenceEquals(d.Entry.Entity, owner.Entity)))
                {
                    reads.Disabled.Add((owner, metadata));
                }
            }

            if (owned.State != EntityState.Deleted)
            {
                SyncSharedVersionColumn(session, owned, metadata, version);
                if (disabled)
                {
                    reads!.OwnedCopies.Add((owned, metadata, owner));
                }
            }
        }

        return reads;
    }

    /// <summary>After the owner's version was read (DisableConcurrency), makes its row-sharing copies agree again.</summary>
    public static void Resync(SaveSession session, EntityEntry owned, VersionFieldMetadata metadata, EntityEntry owner)
        => SyncSharedVersionColumn(session, owned, metadata, owner.Property(metadata.Property));

    /// <summary>Sets the owned type's copies of the owner's version column to the owner's checked and written values.</summary>
    private static void SyncSharedVersionColumn(SaveSession session, EntityEntry owned, VersionFieldMetadata metadata, PropertyEntry ownerVersion)
    {
        var table = StoreObjectIdentifier.Create(owned.Metadata, StoreObjectType.Table);
        var ownerTable = StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table);
        if (table is null || table != ownerTable)
        {
            return;
        }

        var column = metadata.Property.GetColumnName(table.Value);
        foreach (var property in owned.Metadata.GetProperties())
        {
            if (!property.IsConcurrencyToken || property.GetColumnName(table.Value) != column)
            {
                continue;
            }

            var copy = owned.Property(property);
            session.Changes.Add(copy, metadata, copy.OriginalValue, copy.CurrentValue);
            copy.OriginalValue = Convert.ChangeType(ownerVersion.OriginalValue, property.ClrType, CultureInfo.InvariantCulture);
            copy.CurrentValue = Convert.ChangeType(ownerVersion.CurrentValue, property.ClrType, CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Walks up the ownership chain to the nearest tracked owner that has a version field.</summary>
    private static (EntityEntry Owner, VersionFieldMetadata Metadata)? FindVersionedOwner(DbContext context, EntityEntry owned)
    {
        var current = owned;
        while (current.Metadata.FindOwnership() is { } ownership)
        {
            EntityEntry? principal = null;
            foreach (var candidate in context.ChangeTracker.Entries())
            {
                if (ownership.PrincipalEntityType.IsAssignableFrom(candidate.Metadata) && KeysMatch(current, ownership, candidate))
                {
                    principal = candidate;
                    break;
                }
            }

            if (principal is null)
            {
                return null;
            }

            if (VersionFieldMetadata.Find(principal.Metadata) is { } metadata)
            {
                return (principal, metadata);
            }

            current = principal;
        }

        return null;
    }

    private static bool KeysMatch(EntityEntry owned, IForeignKey ownership, EntityEntry principal)
    {
        for (var i = 0; i < ownership.Properties.Count; i++)
        {
            var value = owned.State == EntityState.Deleted
                ? owned.Property(ownership.Properties[i]).OriginalValue
                : owned.Property(ownership.Properties[i]).CurrentValue;
            if (!Equals(value, principal.Property(ownership.PrincipalKey.Properties[i]).CurrentValue))
            {
                return false;
            }
        }

        return true;
    }
}
