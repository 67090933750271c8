using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Locks derived from a principal (<c>HasObjectLockFrom</c>): before EF writes, reads the lock state of every principal
///     the saved dependents reference (and, for chains, the principal's own principal), under a share lock in the save's
///     transaction, and refuses the save when one is locked by someone else. A concurrent lock of a principal therefore
///     either waits for this save or is seen by it.
/// </summary>
internal static class DerivedLockCheck
{
    public static async ValueTask CheckAsync(
        DbContext context,
        List<(EntityEntry Entry, DerivedLockMetadata Metadata)> derived,
        DatabaseDialect dialect,
        bool async,
        CancellationToken cancellationToken)
    {
        var pending = new List<Reference>();
        foreach (var (entry, metadata) in derived)
        {
            foreach (var key in metadata.ReferencedKeys(entry))
            {
                pending.Add(new Reference(entry, metadata, key));
            }
        }

        for (var depth = 0; pending.Count > 0; depth++)
        {
            if (depth == DerivedLockMetadata.MaxDepth)
            {
                throw new InvalidOperationException(
                    $"The derived lock of {pending[0].Entry.Metadata.DisplayName()} passes through more than {DerivedLockMetadata.MaxDepth}"
                    + " principals: the data references itself in a cycle. Break the cycle, or do not derive this lock.");
            }

            pending.Sort(static (a, b) => Compare(a, b));
            await CheckLocksAsync(context, pending, dialect, async, cancellationToken).ConfigureAwait(false);
            pending = await NextPrincipalsAsync(context, pending, dialect, async, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async ValueTask CheckLocksAsync(
        DbContext context,
        List<Reference> references,
        DatabaseDialect dialect,
        bool async,
        CancellationToken cancellationToken)
    {
        var locked = references.Where(r => r.Metadata.PrincipalLock is not null).ToList();
        if (locked.Count == 0)
        {
            return;
        }

        var states = await ObjectLockStore.ReadByKeyAsync(
                context,
                locked.Select(r => (r.Metadata.PrincipalLock!, r.Metadata.PrincipalKey, r.Key)).ToList(),
                dialect.ShareLockClause,
                async,
                cancellationToken)
            .ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;
        var owner = ObjectLockOwner.Current;
        for (var i = 0; i < locked.Count; i++)
        {
            var reference = locked[i];
            if (states[i] is not { } state || !state.IsHeldAt(now)
                || (reference.Metadata.PrincipalLock!.LockedBy is not null && state.LockedBy is not null && state.LockedBy == owner))
            {
                continue;
            }

            var entry = reference.Entry;
            var own = ObjectLockMetadata.Find(entry.Metadata);
            var dependent = DerivedLockMetadata.Find(entry.Metadata)!;
            var key = new Dictionary<string, object?>();
            var keyProperties = entry.Metadata.FindPrimaryKey()?.Properties ?? [];
            foreach (var property in keyProperties)
            {
                key[property.Name] = entry.Property(property).OriginalValue ?? entry.Property(property).CurrentValue;
            }

            throw new ObjectLockedException(
                entry,
                KeyDescription.Describe(dependent.EntityType, keyProperties.ToArray(), p => key[p.Name]),
                key,
                reference.Metadata.DescribePrincipal(reference.Key),
                state,
                entry.State switch { EntityState.Added => "added", EntityState.Deleted => "deleted", _ => "updated" });
        }
    }

    /// <summary>For principals whose lock is derived in turn: reads the key of their own principal (under the same share lock).</summary>
    private static async ValueTask<List<Reference>> NextPrincipalsAsync(
        DbContext context,
        List<Reference> references,
        DatabaseDialect dialect,
        bool async,
        CancellationToken cancellationToken)
    {
        var chained = references.Where(r => r.Metadata.PrincipalDerived is not null).ToList();
        var next = new List<Reference>(chained.Count);
        if (chained.Count == 0)
        {
            return next;
        }

        var keys = await VersionQuery.ReadRowsAsync<object?[]>(
                context,
                CommandSource.SaveChanges,
                chained.Count,
                (command, i) => VersionQuery.AppendSelectByKey(
                    command,
                    chained[i].Metadata.PrincipalTable,
                    chained[i].Metadata.PrincipalDerived!.ForeignKey.Properties,
                    chained[i].Metadata.PrincipalKey,
                    chained[i].Key,
                    dialect.ShareLockClause),
                (reader, _) =>
                {
                    var values = new object?[reader.FieldCount];
                    for (var v = 0; v < values.Length; v++)
                    {
                        values[v] = reader.IsDBNull(v) ? null : reader.GetValue(v);
                    }

                    return values;
                },
                async,
                cancellationToken)
            .ConfigureAwait(false);

        for (var i = 0; i < chained.Count; i++)
        {
            if (keys[i] is { } key && Array.IndexOf(key, null) < 0)
            {
                var principalDerived = chained[i].Metadata.PrincipalDerived!;
                var typed = new object?[key.Length];
                for (var k = 0; k < key.Length; k++)
                {
                    // Read as the column's provider type; convert to the key property's CLR type for the next parameter.
                    var property = principalDerived.PrincipalKey[k];
                    typed[k] = property.GetTypeMapping().Converter is { } converter
                        ? converter.ConvertFromProvider(key[k])
                        : Convert.ChangeType(key[k], Nullable.GetUnderlyingType(property.ClrType) ?? property.ClrType, System.Globalization.CultureInfo.InvariantCulture);
                }

                next.Add(new Reference(chained[i].Entry, principalDerived, typed));
            }
        }

        return next;
    }

    private static int Compare(Reference a, Reference b)
        => RowOrder.CompareKeys(a.Metadata.PrincipalTable, a.Key, b.Metadata.PrincipalTable, b.Key);

    /// <summary>A saved dependent and one principal row its lock depends on.</summary>
    private readonly record struct Reference(EntityEntry Entry, DerivedLockMetadata Metadata, object?[] Key);
}
