using System.Data.Common;
using System.Globalization;
using System.Text;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using static Concurrency.EntityFrameworkCore.Storage.Internal.DatabaseDialect;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     Reads the current version of tracked rows by primary key: one SELECT per entity, all in one command (one round
///     trip per 200 entities), results in the order of the entries; <see langword="null" /> where the row is gone.
/// </summary>
internal static class VersionQuery
{
    private const int StatementsPerCommand = 200;

    public static ValueTask<long?[]> ReadAsync(
        DbConnection connection,
        DbTransaction? transaction,
        IReadOnlyList<(EntityEntry Entry, VersionFieldMetadata Metadata)> entries,
        string lockClause,
        bool async,
        CancellationToken cancellationToken)
        => ReadRowsAsync<long?>(
            connection,
            transaction,
            entries.Count,
            (sql, command, i) => AppendSelect(sql, command, entries[i].Entry, entries[i].Metadata, lockClause),
            (reader, _) => Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture),
            async,
            cancellationToken);

    /// <summary>
    ///     Runs one SELECT per row (appended by <paramref name="appendSelect" />), in commands of up to 200 statements, and
    ///     reads each row's first result row with <paramref name="read" />; the default value where a row is gone.
    /// </summary>
    public static async ValueTask<T?[]> ReadRowsAsync<T>(
        DbConnection connection,
        DbTransaction? transaction,
        int count,
        Action<StringBuilder, DbCommand, int> appendSelect,
        Func<DbDataReader, int, T> read,
        bool async,
        CancellationToken cancellationToken)
    {
        var results = new T?[count];
        for (var start = 0; start < count; start += StatementsPerCommand)
        {
            var batch = Math.Min(StatementsPerCommand, count - start);
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.Transaction = transaction;
                var sql = new StringBuilder();
                for (var i = start; i < start + batch; i++)
                {
                    appendSelect(sql, command, i);
                }

                command.CommandText = sql.ToString();
                var reader = async
                    ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false)
                    : command.ExecuteReader();
                await using (reader.ConfigureAwait(false))
                {
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
        }

        return results;
    }

    /// <summary>Appends <c>key1 = @p AND key2 = @p</c> for the entry's original key values, adding the parameters.</summary>
    public static void AppendKeyPredicate(StringBuilder sql, DbCommand command, StoreObjectIdentifier table, IProperty[] keys, EntityEntry entry)
    {
        for (var k = 0; k < keys.Length; k++)
        {
            var key = keys[k];
            var name = AddParameter(command, key, entry.Property(key).OriginalValue);
            sql.Append(k == 0 ? string.Empty : " AND ").Append(Quote(key.GetColumnName(table)!)).Append(" = ").Append(name);
        }
    }

    /// <summary>Adds a parameter typed by the property's own type mapping (so conversions match EF's) and returns its name.</summary>
    public static string AddParameter(DbCommand command, IProperty property, object? value)
    {
        var name = "@cv" + command.Parameters.Count.ToString(CultureInfo.InvariantCulture);
        command.Parameters.Add(property.GetRelationalTypeMapping().CreateParameter(command, name, value));
        return name;
    }

    private static void AppendSelect(StringBuilder sql, DbCommand command, EntityEntry entry, VersionFieldMetadata metadata, string lockClause)
    {
        var table = StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table)
            ?? StoreObjectIdentifier.Create(entry.Metadata, StoreObjectType.Table)
            ?? throw new InvalidOperationException(
                $"'{entry.Metadata.DisplayName()}' is not mapped to a table, so its version cannot be read.");
        sql.Append("SELECT ").Append(Quote(metadata.Property.GetColumnName(table)!))
            .Append(" FROM ").Append(Qualify(table.Name, table.Schema))
            .Append(" WHERE ");
        AppendKeyPredicate(sql, command, table, metadata.KeyProperties, entry);
        sql.Append(lockClause).Append(";\n");
    }
}
