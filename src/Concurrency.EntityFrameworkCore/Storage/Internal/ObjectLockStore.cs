using System.Data.Common;
using System.Globalization;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Metadata;
using static Concurrency.EntityFrameworkCore.Storage.Internal.DatabaseDialect;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     Reads and writes the lock columns of rows by primary key, with plain SQL sent through EF's command pipeline on the
///     context's connection (<see cref="ContextCommand" />).
/// </summary>
internal static class ObjectLockStore
{
    /// <summary>
    ///     Reads the lock columns of each entry's row (one SELECT per entity, one round trip per 200), in the entries'
    ///     order; <see langword="null" /> where the row is gone. <paramref name="lockClause" /> locks the rows until the
    ///     transaction ends (PostgreSQL's <c>FOR UPDATE</c>).
    /// </summary>
    public static async ValueTask<ObjectLockState?[]> ReadAsync(
        DbContext context,
        CommandSource source,
        IReadOnlyList<(EntityEntry Entry, ObjectLockMetadata Metadata)> entries,
        string lockClause,
        bool async,
        CancellationToken cancellationToken)
        => await VersionQuery.ReadRowsAsync<ObjectLockState?>(
                context,
                source,
                entries.Count,
                (command, i) =>
                {
                    var (entry, metadata) = entries[i];
                    var table = metadata.Table;
                    command.Append("SELECT ");
                    for (var p = 0; p < metadata.Properties.Length; p++)
                    {
                        command.Append(p == 0 ? string.Empty : ", ").Append(Quote(metadata.Properties[p].GetColumnName(table)!));
                    }

                    command.Append(" FROM ").Append(Qualify(table.Name, table.Schema)).Append(" WHERE ");
                    VersionQuery.AppendKeyPredicate(command, table, metadata.KeyProperties, entry);
                    command.Append(lockClause).Append(";\n");
                },
                (reader, i) => ReadState(reader, entries[i].Metadata),
                async,
                cancellationToken)
            .ConfigureAwait(false);

    /// <summary>
    ///     Reads the lock columns of rows given by their key values (a principal whose lock a dependent shares), in the
    ///     given order; <see langword="null" /> where the row is gone.
    /// </summary>
    public static ValueTask<ObjectLockState?[]> ReadByKeyAsync(
        DbContext context,
        IReadOnlyList<(ObjectLockMetadata Metadata, IProperty[] KeyProperties, object?[] Key)> rows,
        string lockClause,
        bool async,
        CancellationToken cancellationToken)
        => VersionQuery.ReadRowsAsync<ObjectLockState?>(
            context,
            CommandSource.SaveChanges,
            rows.Count,
            (command, i) => VersionQuery.AppendSelectByKey(command, rows[i].Metadata.Table, rows[i].Metadata.Properties, rows[i].KeyProperties, rows[i].Key, lockClause),
            (reader, i) => ReadState(reader, rows[i].Metadata),
            async,
            cancellationToken);

    /// <summary>
    ///     Writes the lock columns of the entry's row and bumps its version as any other change of the row would
    ///     (integer versions always, conditional ones when the lock is watched; trigger versions are bumped by the trigger).
    /// </summary>
    /// <returns>The number of rows written (0 when the row is gone).</returns>
    public static async ValueTask<int> WriteAsync(
        DbContext context,
        CommandSource source,
        EntityEntry entry,
        ObjectLockMetadata metadata,
        ObjectLockState state,
        bool async,
        CancellationToken cancellationToken)
    {
        var command = new ContextCommand(context, source);
        var table = metadata.Table;
        var version = VersionFieldMetadata.Find(entry.Metadata);
        var bump = version is not null
            && (version.Kind == VersionFieldKind.Integer
                || (version.Kind == VersionFieldKind.Conditional && Array.IndexOf(version.WatchedProperties, metadata.IsLocked) >= 0));
        var versionTable = version is null ? (StoreObjectIdentifier?)null
            : StoreObjectIdentifier.Create((IEntityType)version.Property.DeclaringType, StoreObjectType.Table);

        command.Append("UPDATE ").Append(Qualify(table.Name, table.Schema)).Append(" SET ");
        var values = new object?[] { state.IsLocked, state.LockedBy, state.LockedAt, state.LockExpiresAt };
        var all = new[] { metadata.IsLocked, metadata.LockedBy, metadata.LockedAt, metadata.LockExpiresAt };
        var first = true;
        for (var i = 0; i < all.Length; i++)
        {
            if (all[i] is not { } property)
            {
                continue;
            }

            command.Append(first ? string.Empty : ", ").Append(Quote(property.GetColumnName(table)!)).Append(" = ")
                .Append(command.AddParameter(property, values[i]));
            first = false;
        }

        if (bump && versionTable == table)
        {
            AppendBump(command, version!, table);
        }

        command.Append(" WHERE ");
        VersionQuery.AppendKeyPredicate(command, table, metadata.KeyProperties, entry);
        command.Append(";\n");

        if (bump && versionTable is { } other && other != table)
        {
            // TPT: the version lives in another table of the same entity.
            command.Append("UPDATE ").Append(Qualify(other.Name, other.Schema)).Append(" SET ");
            AppendBump(command, version!, other, first: true);
            command.Append(" WHERE ");
            VersionQuery.AppendKeyPredicate(command, other, version!.KeyProperties, entry);
            command.Append(";\n");
        }

        return await command.ExecuteNonQueryAsync(async, cancellationToken).ConfigureAwait(false);
    }

    private static void AppendBump(ContextCommand command, VersionFieldMetadata version, StoreObjectIdentifier table, bool first = false)
    {
        var column = Quote(version.Property.GetColumnName(table)!);
        command.Append(first ? string.Empty : ", ").Append(column).Append(" = ").Append(column).Append(" + 1");
    }

    private static ObjectLockState ReadState(DbDataReader reader, ObjectLockMetadata metadata)
    {
        var ordinal = 1;
        return new ObjectLockState(
            Convert.ToBoolean(reader.GetValue(0), CultureInfo.InvariantCulture),
            metadata.LockedBy is null ? null : reader.IsDBNull(ordinal) ? Skip<string>(ref ordinal) : reader.GetString(ordinal++),
            metadata.LockedAt is null ? null : ReadMoment(reader, ref ordinal),
            metadata.LockExpiresAt is null ? null : ReadMoment(reader, ref ordinal));
    }

    private static T? Skip<T>(ref int ordinal)
    {
        ordinal++;
        return default;
    }

    /// <summary>Reads a timestamp as PostgreSQL (timestamptz: a UTC DateTime) or SQLite (ISO text) returns it.</summary>
    private static DateTimeOffset? ReadMoment(DbDataReader reader, ref int ordinal)
    {
        var value = reader.GetValue(ordinal++);
        return value switch
        {
            DBNull => null,
            DateTimeOffset moment => moment,
            DateTime time => new DateTimeOffset(DateTime.SpecifyKind(time, time.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : time.Kind)),
            string text => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            _ => throw new InvalidOperationException($"Unexpected value of type '{value.GetType().Name}' in a lock timestamp column."),
        };
    }
}
