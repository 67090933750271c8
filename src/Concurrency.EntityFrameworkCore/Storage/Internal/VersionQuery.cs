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
///     Reads the current version of tracked rows by primary key: one SELECT per entity, all in one command (one round
///     trip per 200 entities), results in the order of the entries; <see langword="null" /> where the row is gone. The
///     commands go through EF's command pipeline (<see cref="ContextCommand" />) in the context's current transaction.
/// </summary>
internal static class VersionQuery
{
    private const int StatementsPerCommand = 200;

    public static ValueTask<long?[]> ReadAsync(
        DbContext context,
        CommandSource source,
        IReadOnlyList<(EntityEntry Entry, VersionFieldMetadata Metadata)> entries,
        string lockClause,
        bool async,
        CancellationToken cancellationToken)
        => ReadRowsAsync<long?>(
            context,
            source,
            entries.Count,
            (command, i) => AppendSelect(command, entries[i].Entry, entries[i].Metadata, lockClause),
            (reader, _) => Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture),
            async,
            cancellationToken);

    /// <summary>
    ///     Runs one SELECT per row (appended by <paramref name="appendSelect" />), in commands of up to 200 statements, and
    ///     reads each row's first result row with <paramref name="read" />; the default value where a row is gone.
    /// </summary>
    public static async ValueTask<T?[]> ReadRowsAsync<T>(
        DbContext context,
        CommandSource source,
        int count,
        Action<ContextCommand, int> appendSelect,
        Func<DbDataReader, int, T> read,
        bool async,
        CancellationToken cancellationToken)
    {
        var results = new T?[count];
        for (var start = 0; start < count; start += StatementsPerCommand)
        {
            var batch = Math.Min(StatementsPerCommand, count - start);
            var command = new ContextCommand(context, source);
            for (var i = start; i < start + batch; i++)
            {
                appendSelect(command, i);
            }

            var relationalReader = await command.ExecuteReaderAsync(async, cancellationToken).ConfigureAwait(false);
            await using (relationalReader.ConfigureAwait(false))
            {
                var reader = relationalReader.DbDataReader;
                for (var i = 0; i < batch; i++)
                {
                    if (i > 0 && !(async ? await reader.NextResultAsync(cancellationToken).ConfigureAwait(false) : reader.NextResult()))
                    {
                        break;
                    }

                    if (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
                    {
                        results[start + i] = read(reader, start + i);
                    }
                }
            }
        }

        return results;
    }

    /// <summary>Appends <c>key1 = @p AND key2 = @p</c> for the entry's original key values, adding the parameters.</summary>
    public static void AppendKeyPredicate(ContextCommand command, StoreObjectIdentifier table, IProperty[] keys, EntityEntry entry)
    {
        for (var k = 0; k < keys.Length; k++)
        {
            var key = keys[k];
            var name = command.AddParameter(key, entry.Property(key).OriginalValue);
            command.Append(k == 0 ? string.Empty : " AND ").Append(Quote(key.GetColumnName(table)!)).Append(" = ").Append(name);
        }
    }

    /// <summary>
    ///     Appends <c>SELECT columns FROM table WHERE key1 = @p AND ...</c> plus <paramref name="lockClause" />, for a row
    ///     given by its key values rather than by a tracked entry.
    /// </summary>
    public static void AppendSelectByKey(
        ContextCommand command,
        StoreObjectIdentifier table,
        IReadOnlyList<IProperty> columns,
        IProperty[] keys,
        object?[] keyValues,
        string lockClause)
    {
        command.Append("SELECT ");
        for (var c = 0; c < columns.Count; c++)
        {
            command.Append(c == 0 ? string.Empty : ", ").Append(Quote(columns[c].GetColumnName(table)!));
        }

        command.Append(" FROM ").Append(Qualify(table.Name, table.Schema)).Append(" WHERE ");
        for (var k = 0; k < keys.Length; k++)
        {
            var name = command.AddParameter(keys[k], keyValues[k]);
            command.Append(k == 0 ? string.Empty : " AND ").Append(Quote(keys[k].GetColumnName(table)!)).Append(" = ").Append(name);
        }

        command.Append(lockClause).Append(";\n");
    }

    private static void AppendSelect(ContextCommand command, EntityEntry entry, VersionFieldMetadata metadata, string lockClause)
    {
        var table = StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table)
            ?? StoreObjectIdentifier.Create(entry.Metadata, StoreObjectType.Table)
            ?? throw new InvalidOperationException(
                $"'{entry.Metadata.DisplayName()}' is not mapped to a table, so its version cannot be read.");
        command.Append("SELECT ").Append(Quote(metadata.Property.GetColumnName(table)!))
            .Append(" FROM ").Append(Qualify(table.Name, table.Schema))
            .Append(" WHERE ");
        AppendKeyPredicate(command, table, metadata.KeyProperties, entry);
        command.Append(lockClause).Append(";\n");
    }
}
