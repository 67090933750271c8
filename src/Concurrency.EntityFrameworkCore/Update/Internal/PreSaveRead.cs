using System.Collections;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>The rows a save must read under a row lock before EF writes, collected by <see cref="VersionPreparer" />.</summary>
internal sealed class PreSaveReads
{
    /// <summary>Versioned entries inside <see cref="DisableConcurrency" />: their current versions are read.</summary>
    public List<(EntityEntry Entry, VersionFieldMetadata Metadata)> Disabled { get; } = [];

    /// <summary>Lockable entries being updated or deleted: their lock state is read.</summary>
    public List<(EntityEntry Entry, ObjectLockMetadata Metadata)> Locks { get; } = [];

    /// <summary>Owned entries sharing a disabled owner's row: their copies of its version are synced after it is read.</summary>
    public List<(EntityEntry Owned, VersionFieldMetadata Metadata, EntityEntry Owner)> OwnedCopies { get; } = [];

    /// <summary>Entries whose lock is derived from a principal, being added, updated or deleted: the principal's lock state is read.</summary>
    public List<(EntityEntry Entry, DerivedLockMetadata Metadata)> Derived { get; } = [];
}

/// <summary>
///     Reads what must be checked before EF writes, under a row lock, in the transaction the save runs in: for lockable
///     entities being updated or deleted, their lock state (so a lock taken after the entity was loaded is honoured and
///     cannot be taken between this check and the write); inside <see cref="DisableConcurrency" />, the rows' current
///     versions (so the save wins and the version still goes up by one).
/// </summary>
/// <remarks>
///     Rows are locked in one order for every save, table then primary key (lock states first, then versions), so two
///     saves of the same rows tracked in different orders wait for each other instead of deadlocking.
/// </remarks>
internal static class PreSaveRead
{
    public static async ValueTask ReadAsync(
        DbContext context,
        SaveSession session,
        PreSaveReads reads,
        DatabaseDialect dialect,
        bool async,
        CancellationToken cancellationToken)
    {
        var database = context.Database;
        if (async)
        {
            await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            database.OpenConnection();
        }

        try
        {
            if (reads.Locks.Count > 0)
            {
                reads.Locks.Sort((a, b) => RowOrder.Compare(a.Metadata.Table, a.Metadata.KeyProperties, a.Entry, b.Metadata.Table, b.Metadata.KeyProperties, b.Entry));
                var states = await ObjectLockStore.ReadAsync(context, CommandSource.SaveChanges, reads.Locks, dialect.RowLockClause, async, cancellationToken)
                    .ConfigureAwait(false);
                ObjectLockCheck.Check(reads.Locks, states);
            }

            if (reads.Derived.Count > 0)
            {
                await DerivedLockCheck.CheckAsync(context, reads.Derived, dialect, async, cancellationToken).ConfigureAwait(false);
            }

            if (reads.Disabled.Count > 0)
            {
                reads.Disabled.Sort((a, b) => RowOrder.Compare(VersionTable(a.Metadata), a.Metadata.KeyProperties, a.Entry, VersionTable(b.Metadata), b.Metadata.KeyProperties, b.Entry));
                var versions = await VersionQuery.ReadAsync(context, CommandSource.SaveChanges, reads.Disabled, dialect.RowLockClause, async, cancellationToken)
                    .ConfigureAwait(false);
                for (var i = 0; i < reads.Disabled.Count; i++)
                {
                    // A row that is gone keeps the loaded version, so the save fails with WasDeleted = true instead of
                    // silently doing nothing.
                    if (versions[i] is { } version)
                    {
                        var (entry, metadata) = reads.Disabled[i];
                        VersionPreparer.Apply(session, entry, metadata, entry.Property(metadata.Property), version);
                    }
                }

                foreach (var (owned, metadata, owner) in reads.OwnedCopies)
                {
                    OwnedVersionSharing.Resync(session, owned, metadata, owner);
                }
            }
        }
        finally
        {
            if (async)
            {
                await database.CloseConnectionAsync().ConfigureAwait(false);
            }
            else
            {
                database.CloseConnection();
            }
        }
    }

    private static StoreObjectIdentifier VersionTable(VersionFieldMetadata metadata)
        => StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table) ?? default;
}

/// <summary>The one order in which rows are locked: schema, table, then primary key values.</summary>
internal static class RowOrder
{
    public static int Compare(
        StoreObjectIdentifier tableA,
        IProperty[] keysA,
        EntityEntry entryA,
        StoreObjectIdentifier tableB,
        IProperty[] keysB,
        EntityEntry entryB)
    {
        var result = CompareTables(tableA, tableB);
        for (var i = 0; result == 0 && i < keysA.Length && i < keysB.Length; i++)
        {
            result = StructuralComparisons.StructuralComparer.Compare(entryA.Property(keysA[i]).OriginalValue, entryB.Property(keysB[i]).OriginalValue);
        }

        return result;
    }

    /// <summary>The same order for rows given by their key values.</summary>
    public static int CompareKeys(StoreObjectIdentifier tableA, object?[] keyA, StoreObjectIdentifier tableB, object?[] keyB)
    {
        var result = CompareTables(tableA, tableB);
        for (var i = 0; result == 0 && i < keyA.Length && i < keyB.Length; i++)
        {
            result = StructuralComparisons.StructuralComparer.Compare(keyA[i], keyB[i]);
        }

        return result;
    }

    private static int CompareTables(StoreObjectIdentifier a, StoreObjectIdentifier b)
    {
        var result = string.CompareOrdinal(a.Schema, b.Schema);
        return result != 0 ? result : string.CompareOrdinal(a.Name, b.Name);
    }
}
