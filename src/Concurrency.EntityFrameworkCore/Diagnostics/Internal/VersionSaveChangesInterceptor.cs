using System.Data.Common;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Bumps version fields just before EF Core builds its UPDATE statements, so the new version is written in the same
///     statement whose WHERE clause checks the old one (EF's own concurrency-token check, no extra round trip), and turns
///     EF's concurrency exception into a <see cref="RecordModifiedException" />.
/// </summary>
/// <remarks>
///     Registered as a scoped EF service, so one instance serves one DbContext (which is never used by two threads at
///     once). The only state it keeps is the list of version values it changed during the current SaveChanges, which it
///     restores if the save fails so that retrying or resolving the conflict starts from what the application loaded.
/// </remarks>
internal sealed class VersionSaveChangesInterceptor(IDbContextOptions options) : SaveChangesInterceptor
{
    private const int StatementsPerCommand = 200;

    private readonly bool _fetchOnConflict
        = options.FindExtension<ConcurrencyOptionsExtension>()?.FetchDatabaseValuesOnConflict ?? true;

    private readonly List<VersionChange> _changes = [];
    private IDbContextTransaction? _ownTransaction;

    public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        PrepareAsync(eventData.Context, async: false, CancellationToken.None).GetAwaiter().GetResult();
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData,
        InterceptionResult<int> result,
        CancellationToken cancellationToken = default)
    {
        await PrepareAsync(eventData.Context, async: true, cancellationToken).ConfigureAwait(false);
        return result;
    }

    public override int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        CompleteAsync(async: false, CancellationToken.None).GetAwaiter().GetResult();
        return result;
    }

    public override async ValueTask<int> SavedChangesAsync(
        SaveChangesCompletedEventData eventData,
        int result,
        CancellationToken cancellationToken = default)
    {
        await CompleteAsync(async: true, cancellationToken).ConfigureAwait(false);
        return result;
    }

    public override void SaveChangesFailed(DbContextErrorEventData eventData)
        => HandleFailureAsync(eventData, async: false, CancellationToken.None).GetAwaiter().GetResult();

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
        => HandleFailureAsync(eventData, async: true, cancellationToken).AsTask();

    public override void SaveChangesCanceled(DbContextEventData eventData)
        => AbortAsync(async: false).GetAwaiter().GetResult();

    public override Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
        => AbortAsync(async: true).AsTask();

    /// <summary>The shared core of SavingChanges: sets original (checked) and current (written) versions.</summary>
    private async ValueTask PrepareAsync(DbContext? context, bool async, CancellationToken cancellationToken)
    {
        _changes.Clear();
        if (context is null || !VersionedModel.Get(context.Model).HasVersionFields)
        {
            return;
        }

        var scopeActive = DisableConcurrency.IsActive;
        List<(EntityEntry Entry, VersionFieldMetadata Metadata)>? disabled = null;

        // Entries() runs DetectChanges first (when enabled), so entity states are current here.
        foreach (var entry in context.ChangeTracker.Entries())
        {
            var state = entry.State;
            if (state is EntityState.Unchanged or EntityState.Detached)
            {
                continue;
            }

            var metadata = VersionFieldMetadata.Find(entry.Metadata);
            if (metadata is null)
            {
                continue;
            }

            if (state == EntityState.Added)
            {
                if (metadata.Kind != VersionFieldKind.Trigger)
                {
                    var version = entry.Property(metadata.Property);
                    if (metadata.ToLong(version.CurrentValue) <= 0)
                    {
                        version.CurrentValue = metadata.FromLong(1);
                    }
                }

                continue;
            }

            if (scopeActive && DisableConcurrency.IsDisabledFor(entry.Metadata.ClrType))
            {
                (disabled ??= []).Add((entry, metadata));
                continue;
            }

            // A version the application wrote into the property (the disconnected pattern: the version the client sent
            // back) is the version the row must still have. EF alone would silently check the loaded value instead.
            var property = entry.Property(metadata.Property);
            Apply(entry, metadata, property, metadata.ExpectedVersion(property.OriginalValue, property.CurrentValue));
        }

        if (disabled is not null)
        {
            await ReadCurrentVersionsAsync(context, disabled, async, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Checks against <paramref name="expected" /> and writes the next version, remembering the old values.</summary>
    private void Apply(EntityEntry entry, VersionFieldMetadata metadata, PropertyEntry property, long expected)
    {
        var previousOriginal = property.OriginalValue;
        var previousCurrent = property.CurrentValue;
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
                VersionFieldKind.Integer => expected + 1,
                VersionFieldKind.Conditional when WatchedPropertyChanged(entry, metadata) => expected + 1,
                _ => expected, // trigger versions are bumped by the database; unwatched changes keep the version
            };

            if (metadata.ToLong(previousCurrent) != next)
            {
                property.CurrentValue = metadata.FromLong(next);
                changed = true;
            }
        }

        if (changed)
        {
            _changes.Add(new VersionChange(property, previousOriginal, previousCurrent));
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

    /// <summary>
    ///     Inside <see cref="DisableConcurrency" />: reads the rows' current versions under a row lock, in a transaction
    ///     that the save joins, and checks against those, so the save wins and the version still goes up by one.
    /// </summary>
    private async ValueTask ReadCurrentVersionsAsync(
        DbContext context,
        List<(EntityEntry Entry, VersionFieldMetadata Metadata)> entries,
        bool async,
        CancellationToken cancellationToken)
    {
        var database = context.Database;
        if (database.CurrentTransaction is null && System.Transactions.Transaction.Current is null)
        {
            _ownTransaction = async
                ? await database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false)
                : database.BeginTransaction();
        }

        var lockClause = database.ProviderName == VersionTriggerDialect.NpgsqlProviderName ? " FOR UPDATE" : string.Empty;
        var connection = database.GetDbConnection();
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
            for (var start = 0; start < entries.Count; start += StatementsPerCommand)
            {
                var chunk = entries.GetRange(start, Math.Min(StatementsPerCommand, entries.Count - start));
                var command = connection.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.Transaction = database.CurrentTransaction?.GetDbTransaction();
                    command.CommandText = BuildVersionQuery(command, chunk, lockClause);
                    var versions = new long?[chunk.Count];
                    var reader = async
                        ? await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false)
                        : command.ExecuteReader();
                    await using (reader.ConfigureAwait(false))
                    {
                        for (var i = 0; i < chunk.Count; i++)
                        {
                            if (i > 0 && !(async ? await reader.NextResultAsync(cancellationToken).ConfigureAwait(false) : reader.NextResult()))
                            {
                                break;
                            }

                            if (async ? await reader.ReadAsync(cancellationToken).ConfigureAwait(false) : reader.Read())
                            {
                                versions[i] = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
                            }
                        }
                    }

                    for (var i = 0; i < chunk.Count; i++)
                    {
                        var (entry, metadata) = chunk[i];
                        if (versions[i] is { } version)
                        {
                            Apply(entry, metadata, entry.Property(metadata.Property), version);
                        }

                        // A row that is gone keeps the loaded version, so the save fails with WasDeleted = true
                        // instead of silently doing nothing.
                    }
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

    private static string BuildVersionQuery(DbCommand command, List<(EntityEntry Entry, VersionFieldMetadata Metadata)> chunk, string lockClause)
    {
        var sql = new System.Text.StringBuilder();
        foreach (var (entry, metadata) in chunk)
        {
            var table = StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table)
                ?? StoreObjectIdentifier.Create(entry.Metadata, StoreObjectType.Table)
                ?? throw new InvalidOperationException($"'{entry.Metadata.DisplayName()}' is not mapped to a table.");
            sql.Append("SELECT ").Append(Quote(metadata.Property.GetColumnName(table)!))
                .Append(" FROM ").Append(table.Schema is null ? Quote(table.Name) : Quote(table.Schema) + "." + Quote(table.Name))
                .Append(" WHERE ");
            for (var k = 0; k < metadata.KeyProperties.Length; k++)
            {
                var key = metadata.KeyProperties[k];
                var name = "@cv" + command.Parameters.Count;
                var parameter = key.GetRelationalTypeMapping().CreateParameter(command, name, entry.Property(key).OriginalValue);
                command.Parameters.Add(parameter);
                sql.Append(k == 0 ? string.Empty : " AND ").Append(Quote(key.GetColumnName(table)!)).Append(" = ").Append(name);
            }

            sql.Append(lockClause).Append(";\n");
        }

        return sql.ToString();
    }

    private static string Quote(string identifier)
        => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private async ValueTask CompleteAsync(bool async, CancellationToken cancellationToken)
    {
        _changes.Clear();
        if (_ownTransaction is { } transaction)
        {
            _ownTransaction = null;
            try
            {
                if (async)
                {
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    transaction.Commit();
                }
            }
            finally
            {
                await DisposeAsync(transaction, async).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask AbortAsync(bool async)
    {
        try
        {
            if (_ownTransaction is { } transaction)
            {
                _ownTransaction = null;
                await DisposeAsync(transaction, async).ConfigureAwait(false); // disposing an uncommitted transaction rolls it back
            }
        }
        finally
        {
            Revert();
        }
    }

    private async ValueTask HandleFailureAsync(DbContextErrorEventData eventData, bool async, CancellationToken cancellationToken)
    {
        RecordModifiedException? conflict = null;
        try
        {
            if (_ownTransaction is { } transaction)
            {
                _ownTransaction = null;
                await DisposeAsync(transaction, async).ConfigureAwait(false);
            }

            if (eventData.Exception is DbUpdateConcurrencyException { Entries.Count: > 0 } concurrency
                and not RecordModifiedException)
            {
                conflict = await DescribeConflictAsync(concurrency, async, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Revert();
        }

        if (conflict is not null)
        {
            throw conflict;
        }
    }

    private async ValueTask<RecordModifiedException?> DescribeConflictAsync(
        DbUpdateConcurrencyException exception,
        bool async,
        CancellationToken cancellationToken)
    {
        List<RecordConflict>? conflicts = null;
        foreach (var entry in exception.Entries)
        {
            var metadata = VersionFieldMetadata.Find(entry.Metadata);
            if (metadata is null)
            {
                continue;
            }

            var expected = metadata.ToLong(entry.Property(metadata.Property).OriginalValue);
            var key = new Dictionary<string, object?>(metadata.KeyProperties.Length);
            foreach (var keyProperty in metadata.KeyProperties)
            {
                key[keyProperty.Name] = entry.Property(keyProperty).OriginalValue;
            }

            PropertyValues? databaseValues = null;
            if (_fetchOnConflict)
            {
                databaseValues = async
                    ? await entry.GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false)
                    : entry.GetDatabaseValues();
            }

            long? actual = databaseValues is null ? null : metadata.ToLong(databaseValues[metadata.Property]);
            conflicts ??= [];
            conflicts.Add(
                new RecordConflict(
                    entry,
                    metadata.DescribeKey(p => key[p.Name]),
                    key,
                    expected,
                    actual,
                    wasDeleted: _fetchOnConflict && databaseValues is null,
                    databaseValuesFetched: _fetchOnConflict,
                    databaseValues));
        }

        return conflicts is null ? null : new RecordModifiedException(conflicts, exception);
    }

    /// <summary>Restores every version value changed by this save, newest first.</summary>
    private void Revert()
    {
        for (var i = _changes.Count - 1; i >= 0; i--)
        {
            var change = _changes[i];
            change.Property.CurrentValue = change.PreviousCurrent;
            change.Property.OriginalValue = change.PreviousOriginal;
        }

        _changes.Clear();
    }

    private static async ValueTask DisposeAsync(IDbContextTransaction transaction, bool async)
    {
        if (async)
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            transaction.Dispose();
        }
    }

    private readonly record struct VersionChange(PropertyEntry Property, object? PreviousOriginal, object? PreviousCurrent);
}
