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
    private readonly bool _readActualVersion
        = options.FindExtension<ConcurrencyOptionsExtension>()?.ReadActualVersionOnConflict ?? true;

    private readonly List<VersionChange> _changes = [];
    private IDbContextTransaction? _ownTransaction;
    private EventHandler<SaveChangesFailedEventArgs>? _onSaveChangesFailed;
    private DbContext? _transactionContext;
    private EventHandler<DetectedChangesEventArgs>? _onDetectedAllChanges;
    private DbContext? _armedContext;

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

    // Failures other than concurrency conflicts (EF calls no interceptor for those: see ThrowingConcurrencyException).
    public override void SaveChangesFailed(DbContextErrorEventData eventData)
        => AbortAsync(async: false).GetAwaiter().GetResult();

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
        => AbortAsync(async: true).AsTask();

    public override void SaveChangesCanceled(DbContextEventData eventData)
        => AbortAsync(async: false).GetAwaiter().GetResult();

    public override Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
        => AbortAsync(async: true).AsTask();

    /// <summary>The shared core of SavingChanges: sets original (checked) and current (written) versions.</summary>
    private async ValueTask PrepareAsync(DbContext? context, bool async, CancellationToken cancellationToken)
    {
        // A previous save that was aborted before EF's try block (another SavingChanges interceptor threw) reached
        // none of our exit hooks: undo what it changed, or its bumped versions would read as expected versions now.
        Disarm();
        if (_changes.Count > 0 || _ownTransaction is not null)
        {
            await AbortAsync(async).ConfigureAwait(false);
        }

        if (context is null)
        {
            return;
        }

        var model = VersionedModel.Get(context.Model);
        if (!model.HasVersionFields && !model.HasObjectLocks)
        {
            return;
        }

        // EF runs DetectChanges right after the SavingChanges interceptors. Scanning here would run it twice (it
        // costs microseconds per tracked entity), so wait for EF's own scan and bump from its DetectedAllChanges
        // event. Not possible when EF will not scan (auto-detect off, or a model without snapshot tracking), nor when
        // the database must be read first (DisableConcurrency reads versions, object locks read the lock state),
        // which needs the async path.
        if (context.ChangeTracker.AutoDetectChangesEnabled
            && model.HasSnapshotTracking
            && !model.HasObjectLocks
            && !DisableConcurrency.IsActive)
        {
            Arm(context);
            return;
        }

        // EF calls no failure hook for exceptions thrown here (SavingChanges runs outside its try block): clean up
        // ourselves, so no transaction opened here and no version value changed here outlives a failed save.
        try
        {
            var (disabled, locks) = Scan(context);
            if (disabled is not null || locks is not null)
            {
                await ReadUnderRowLockAsync(context, disabled, locks, async, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await AbortAsync(async).ConfigureAwait(false);
            throw;
        }
    }

    private void Arm(DbContext context)
    {
        _onDetectedAllChanges ??= OnDetectedAllChanges;
        _armedContext = context;
        context.ChangeTracker.DetectedAllChanges += _onDetectedAllChanges;
    }

    /// <summary>Unsubscribes from the context's DetectedAllChanges event, if subscribed; the handler is one-shot.</summary>
    private DbContext? Disarm()
    {
        var context = _armedContext;
        if (context is not null)
        {
            _armedContext = null;
            context.ChangeTracker.DetectedAllChanges -= _onDetectedAllChanges;
        }

        return context;
    }

    /// <summary>
    ///     Runs once, at the end of the DetectChanges that SaveChanges runs after the SavingChanges interceptors (EF
    ///     blocks nested DetectChanges while raising this event, so the scan below does not repeat it).
    /// </summary>
    /// <remarks>
    ///     If an interceptor registered after this one aborts the save, this stays armed until the next save or exit
    ///     hook disarms it; a DetectChanges by the application meanwhile then prepares versions exactly as an aborted
    ///     save would have, and the next save undoes them before it starts (see <see cref="PrepareAsync" />).
    /// </remarks>
    private void OnDetectedAllChanges(object? sender, DetectedChangesEventArgs e)
    {
        if (Disarm() is not { } context)
        {
            return;
        }

        // Like SavingChanges, EF's DetectChanges runs outside the save's try block: no failure hook follows a throw.
        try
        {
            Scan(context);
        }
        catch
        {
            Revert();
            throw;
        }
    }

    /// <summary>
    ///     Sets the checked and written version of every added and modified versioned entry, and returns the entries
    ///     whose versions must first be read from the database (DisableConcurrency) and the lockable entries being
    ///     updated or deleted, each null when there are none.
    /// </summary>
    private (List<(EntityEntry Entry, VersionFieldMetadata Metadata)>? Disabled, List<(EntityEntry Entry, ObjectLockMetadata Metadata)>? Locks)
        Scan(DbContext context)
    {
        var scopeActive = DisableConcurrency.IsActive;
        var lockable = VersionedModel.Get(context.Model).HasObjectLocks;
        List<(EntityEntry Entry, VersionFieldMetadata Metadata)>? disabled = null;
        List<(EntityEntry Entry, ObjectLockMetadata Metadata)>? locks = null;
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
                PrepareLockColumns(entry, lockMetadata);
                (locks ??= []).Add((entry, lockMetadata));
            }

            var metadata = VersionFieldMetadata.Find(entry.Metadata);
            if (metadata is null)
            {
                if (state == EntityState.Modified && entry.Metadata.IsOwned())
                {
                    (ownedChanges ??= []).Add(entry);
                }

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
            var original = property.OriginalValue;
            var current = property.CurrentValue;
            Apply(entry, metadata, property, metadata.ExpectedVersion(original, current), original, current);
        }

        if (ownedChanges is not null)
        {
            ApplyOwnedChanges(context, ownedChanges);
        }

        return (disabled, locks);
    }

    /// <summary>
    ///     The lock columns are written only when this client changed the lock itself: a stale or disconnected copy
    ///     (<c>Update(dto)</c> marks every property modified) must never silently lock or unlock the row. An unlock in the
    ///     same save (loaded locked, set unlocked) also clears the owner and lease.
    /// </summary>
    private static void PrepareLockColumns(EntityEntry entry, ObjectLockMetadata metadata)
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
    ///     An owned entity stored in its owner's row (OwnsOne) can be saved while the owner itself is unchanged: EF then
    ///     updates the shared row checking only the owned type's copy of the version column, and nothing bumps it. Treat
    ///     such a change as a change of the owner: bump the owner's version, and keep the owned type's copy of the
    ///     version column (EF's table-sharing concurrency token) equal to the owner's, so both conditions agree.
    /// </summary>
    private void ApplyOwnedChanges(DbContext context, List<EntityEntry> ownedEntries)
    {
        foreach (var owned in ownedEntries)
        {
            if (FindVersionedOwner(context, owned) is not var (owner, metadata))
            {
                continue;
            }

            var version = owner.Property(metadata.Property);
            if (owner.State == EntityState.Unchanged || !WasChangedBySave(version))
            {
                if (owner.State is not (EntityState.Unchanged or EntityState.Modified) || !metadata.OwnedChangesBump)
                {
                    SyncSharedVersionColumn(owned, metadata, version);
                    continue;
                }

                var expected = metadata.ExpectedVersion(version.OriginalValue, version.CurrentValue);
                var previousOriginal = version.OriginalValue;
                var previousCurrent = version.CurrentValue;
                version.OriginalValue = metadata.FromLong(expected);
                version.CurrentValue = metadata.FromLong(expected + 1);
                _changes.Add(new VersionChange(version, previousOriginal, previousCurrent));
            }

            SyncSharedVersionColumn(owned, metadata, version);
        }
    }

    private bool WasChangedBySave(PropertyEntry version)
    {
        foreach (var change in _changes)
        {
            if (change.Property.EntityEntry.Entity == version.EntityEntry.Entity)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Sets the owned type's copies of the owner's version column to the owner's checked and written values.</summary>
    private void SyncSharedVersionColumn(EntityEntry owned, VersionFieldMetadata metadata, PropertyEntry ownerVersion)
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
            _changes.Add(new VersionChange(copy, copy.OriginalValue, copy.CurrentValue));
            copy.OriginalValue = Convert.ChangeType(ownerVersion.OriginalValue, property.ClrType, System.Globalization.CultureInfo.InvariantCulture);
            copy.CurrentValue = Convert.ChangeType(ownerVersion.CurrentValue, property.ClrType, System.Globalization.CultureInfo.InvariantCulture);
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
            if (!Equals(owned.Property(ownership.Properties[i]).CurrentValue, principal.Property(ownership.PrincipalKey.Properties[i]).CurrentValue))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Checks against <paramref name="expected" /> and writes the next version, remembering the old values.</summary>
    private void Apply(EntityEntry entry, VersionFieldMetadata metadata, PropertyEntry property, long expected)
        => Apply(entry, metadata, property, expected, property.OriginalValue, property.CurrentValue);

    private void Apply(
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
                VersionFieldKind.Integer => expected + 1,
                VersionFieldKind.Conditional when WatchedPropertyChanged(entry, metadata) => expected + 1,
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
    ///     Reads what must be checked before EF writes, under a row lock, in a transaction that the save joins: inside
    ///     <see cref="DisableConcurrency" />, the rows' current versions (so the save wins and the version still goes up by
    ///     one); for lockable entities being updated or deleted, their lock state in the database (so a lock taken after
    ///     the entity was loaded is honoured, and cannot be taken between this check and the write).
    /// </summary>
    private async ValueTask ReadUnderRowLockAsync(
        DbContext context,
        List<(EntityEntry Entry, VersionFieldMetadata Metadata)>? disabled,
        List<(EntityEntry Entry, ObjectLockMetadata Metadata)>? locks,
        bool async,
        CancellationToken cancellationToken)
    {
        var database = context.Database;
        if (database.CurrentTransaction is null && System.Transactions.Transaction.Current is null)
        {
            _ownTransaction = async
                ? await database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false)
                : database.BeginTransaction();
            _onSaveChangesFailed ??= OnSaveChangesFailed;
            _transactionContext = context;
            context.SaveChangesFailed += _onSaveChangesFailed;
        }

        var lockClause = VersionTriggerDialect.For(database.ProviderName)?.RowLockClause ?? string.Empty;
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
            var transaction = database.CurrentTransaction?.GetDbTransaction();
            if (locks is not null)
            {
                var states = await ObjectLockStore.ReadAsync(connection, transaction, locks, lockClause, async, cancellationToken)
                    .ConfigureAwait(false);
                CheckObjectLocks(locks, states);
            }

            if (disabled is not null)
            {
                var versions = await VersionQuery.ReadAsync(connection, transaction, disabled, lockClause, async, cancellationToken)
                    .ConfigureAwait(false);
                for (var i = 0; i < disabled.Count; i++)
                {
                    // A row that is gone keeps the loaded version, so the save fails with WasDeleted = true instead of
                    // silently doing nothing.
                    if (versions[i] is { } version)
                    {
                        var (entry, metadata) = disabled[i];
                        Apply(entry, metadata, entry.Property(metadata.Property), version);
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

    /// <summary>
    ///     Refuses the save when a row it updates or deletes is locked in the database by someone else. Allowed: rows not
    ///     locked (or whose lease ran out), the lock's owner, and an unlock in the same save of a lock without an owner.
    /// </summary>
    private static void CheckObjectLocks(List<(EntityEntry Entry, ObjectLockMetadata Metadata)> locks, ObjectLockState?[] states)
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

    private async ValueTask CompleteAsync(bool async, CancellationToken cancellationToken)
    {
        Disarm();
        _changes.Clear();
        if (TakeOwnTransaction() is { } transaction)
        {
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
        Disarm();
        try
        {
            if (TakeOwnTransaction() is { } transaction)
            {
                await DisposeAsync(transaction, async).ConfigureAwait(false); // disposing an uncommitted transaction rolls it back
            }
        }
        finally
        {
            Revert();
        }
    }

    public override InterceptionResult ThrowingConcurrencyException(ConcurrencyExceptionEventData eventData, InterceptionResult result)
    {
        ConvertConflictAsync(eventData, async: false, CancellationToken.None).GetAwaiter().GetResult();
        return result;
    }

    public override async ValueTask<InterceptionResult> ThrowingConcurrencyExceptionAsync(
        ConcurrencyExceptionEventData eventData,
        InterceptionResult result,
        CancellationToken cancellationToken = default)
    {
        await ConvertConflictAsync(eventData, async: true, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    ///     Called by EF's update pipeline when a statement affected no row, inside the save's transaction and before it
    ///     is rolled back (EF calls no SaveChangesFailed interceptor for concurrency exceptions). Reads the actual
    ///     versions with one query on the same connection, restores the version values this save changed, and throws
    ///     <see cref="RecordModifiedException" /> in place of EF's exception. Conflicts on entities without a version
    ///     field are left to EF.
    /// </summary>
    private async ValueTask ConvertConflictAsync(ConcurrencyExceptionEventData eventData, bool async, CancellationToken cancellationToken)
    {
        RecordModifiedException? conflict = null;
        try
        {
            var versioned = new List<(EntityEntry Entry, VersionFieldMetadata Metadata)>();
            foreach (var entry in eventData.Entries)
            {
                if (VersionFieldMetadata.Find(entry.Metadata) is { } metadata)
                {
                    versioned.Add((entry, metadata));
                }
            }

            if (versioned.Count == 0)
            {
                return;
            }

            long?[]? actual = null;
            if (_readActualVersion && eventData is RelationalConcurrencyExceptionEventData relational)
            {
                // The batch's reader is still open; close it so the connection can run the version query.
                if (async)
                {
                    await relational.DataReader.CloseAsync().ConfigureAwait(false);
                }
                else
                {
                    relational.DataReader.Close();
                }

                actual = await VersionQuery.ReadAsync(
                        relational.Connection,
                        relational.Command.Transaction,
                        versioned,
                        lockClause: string.Empty,
                        async,
                        cancellationToken)
                    .ConfigureAwait(false);
            }

            var conflicts = new List<RecordConflict>(versioned.Count);
            for (var i = 0; i < versioned.Count; i++)
            {
                var (entry, metadata) = versioned[i];
                var key = new Dictionary<string, object?>(metadata.KeyProperties.Length);
                foreach (var keyProperty in metadata.KeyProperties)
                {
                    key[keyProperty.Name] = entry.Property(keyProperty).OriginalValue;
                }

                conflicts.Add(
                    new RecordConflict(
                        entry,
                        metadata.Property,
                        metadata.DescribeKey(p => key[p.Name]),
                        key,
                        expectedVersion: metadata.ToLong(entry.Property(metadata.Property).OriginalValue),
                        actualVersion: actual?[i],
                        wasDeleted: actual is not null && actual[i] is null,
                        actualVersionRead: actual is not null));
            }

            conflict = new RecordModifiedException(conflicts, eventData.Exception);
        }
        finally
        {
            Revert();
        }

        // After the revert, so the copies show the versions the application had, not the ones this save tried.
        foreach (var item in conflict.Conflicts)
        {
            item.CaptureValues();
        }

        throw conflict;
    }

    /// <summary>
    ///     Cleans up after a concurrency failure inside <see cref="DisableConcurrency" /> (a row deleted meanwhile): EF
    ///     reports those only through this event, after it rolled back to its savepoint.
    /// </summary>
    private void OnSaveChangesFailed(object? sender, SaveChangesFailedEventArgs e)
        => AbortAsync(async: false).GetAwaiter().GetResult();

    /// <summary>Takes the transaction this interceptor began (inside DisableConcurrency), if any, and unsubscribes.</summary>
    private IDbContextTransaction? TakeOwnTransaction()
    {
        var transaction = _ownTransaction;
        _ownTransaction = null;
        if (_transactionContext is { } context)
        {
            context.SaveChangesFailed -= _onSaveChangesFailed;
            _transactionContext = null;
        }

        return transaction;
    }

    /// <summary>Restores every version value changed by this save, newest first.</summary>
    private void Revert()
    {
        for (var i = _changes.Count - 1; i >= 0; i--)
        {
            var change = _changes[i];
            if (change.Property.EntityEntry.State == EntityState.Detached)
            {
                continue; // no longer tracked (e.g. the change tracker was cleared): nothing to restore
            }

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
