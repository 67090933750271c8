using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     One entity whose save was refused because the row's version no longer matched, with the three sets of values a
///     merge needs and the ways to resolve it before saving again.
/// </summary>
/// <remarks>
///     <see cref="OriginalValues" /> and <see cref="ProposedValues" /> are copies taken when the conflict happened. The
///     database's values are read on the first call to <see cref="GetDatabaseValuesAsync" /> (or a resolve method) and
///     kept, so resolving reads the row once. After resolving, call SaveChanges again; it is checked against the version
///     that was read, so a third writer in between is still caught.
/// </remarks>
public sealed class RecordConflict
{
    private readonly IProperty _versionProperty;
    private PropertyValues? _databaseValues;
    private bool _databaseValuesRead;

    internal RecordConflict(
        EntityEntry entry,
        IProperty versionProperty,
        string description,
        IReadOnlyDictionary<string, object?> key,
        long? expectedVersion,
        long? actualVersion,
        bool wasDeleted,
        bool actualVersionRead)
    {
        Entry = entry;
        _versionProperty = versionProperty;
        EntityDescription = description;
        Key = key;
        ExpectedVersion = expectedVersion;
        ActualVersion = actualVersion;
        WasDeleted = wasDeleted;
        ActualVersionRead = actualVersionRead;
        OriginalValues = entry.OriginalValues;
        ProposedValues = entry.CurrentValues;
    }

    /// <summary>The change-tracker entry of the entity, still tracked in the state it had before the save.</summary>
    public EntityEntry Entry { get; }

    /// <summary>The entity's CLR type.</summary>
    public Type EntityType
        => Entry.Metadata.ClrType;

    /// <summary>The entity and its key, for example <c>Article(Id=5)</c>.</summary>
    public string EntityDescription { get; }

    /// <summary>The primary key values by property name.</summary>
    public IReadOnlyDictionary<string, object?> Key { get; }

    /// <summary>The version this save expected the row to have.</summary>
    public long? ExpectedVersion { get; }

    /// <summary>The version the row has now, or <see langword="null" /> when the row is gone or was not read.</summary>
    public long? ActualVersion { get; }

    /// <summary>Whether the row no longer exists.</summary>
    public bool WasDeleted { get; }

    /// <summary>Whether the row's version was read when the conflict happened (see <c>ReadActualVersionOnConflict</c>).</summary>
    public bool ActualVersionRead { get; }

    /// <summary>
    ///     What this client loaded: the entity's original values when the conflict happened (a copy). For entity types
    ///     tracked with <c>ChangingAndChangedNotifications</c>, EF records no loaded value for most properties; those show
    ///     the proposed value here.
    /// </summary>
    public PropertyValues OriginalValues { get; private set; }

    /// <summary>What this client wanted to write: the entity's current values when the conflict happened (a copy).</summary>
    public PropertyValues ProposedValues { get; private set; }

    /// <summary>
    ///     What the database holds now, once read by <see cref="GetDatabaseValuesAsync" /> or a resolve method;
    ///     <see langword="null" /> before that, and when the row no longer exists.
    /// </summary>
    public PropertyValues? DatabaseValues
        => _databaseValues;

    /// <summary>Reads the row's current values (once; later calls return the same copy).</summary>
    /// <returns>The database's values, or <see langword="null" /> when the row no longer exists.</returns>
    public PropertyValues? GetDatabaseValues()
    {
        if (!_databaseValuesRead)
        {
            _databaseValues = Entry.GetDatabaseValues();
            _databaseValuesRead = true;
        }

        return _databaseValues;
    }

    /// <inheritdoc cref="GetDatabaseValues" />
    /// <param name="cancellationToken">Cancels the query.</param>
    public async Task<PropertyValues?> GetDatabaseValuesAsync(CancellationToken cancellationToken = default)
    {
        if (!_databaseValuesRead)
        {
            _databaseValues = await Entry.GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false);
            _databaseValuesRead = true;
        }

        return _databaseValues;
    }

    /// <summary>
    ///     Gives up this client's change: the entity takes the database's values and becomes unchanged (or is detached when
    ///     the row was deleted). Reads the row if it was not read yet.
    /// </summary>
    public void KeepDatabaseValues()
        => ApplyDatabaseValues(GetDatabaseValues());

    /// <inheritdoc cref="KeepDatabaseValues" />
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>A task that completes when the entity was updated.</returns>
    public async Task KeepDatabaseValuesAsync(CancellationToken cancellationToken = default)
        => ApplyDatabaseValues(await GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>
    ///     Overwrites the other change: the next SaveChanges writes what this client sees, every property, over the row's
    ///     current version (a delete deletes the current row). Reads the row if it was not read yet.
    /// </summary>
    /// <exception cref="InvalidOperationException">The row was deleted: there is nothing to save over.</exception>
    public void KeepClientValues()
        => ApplyMerge(GetDatabaseValues(), static conflict => conflict.ProposedValue, clientWins: true);

    /// <inheritdoc cref="KeepClientValues" />
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>A task that completes when the entity is ready to be saved again.</returns>
    public async Task KeepClientValuesAsync(CancellationToken cancellationToken = default)
        => ApplyMerge(await GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false), static conflict => conflict.ProposedValue, clientWins: true);

    /// <summary>
    ///     Merges property by property, as a three-way merge: a property only this client changed keeps the client's value,
    ///     a property only the other writer changed takes the database's value, and for a property both changed to
    ///     different values, <paramref name="resolve" /> chooses. The next SaveChanges writes the result over the row's
    ///     current version. Reads the row if it was not read yet.
    /// </summary>
    /// <param name="resolve">
    ///     Called for each property both sides changed to different values; returns the value to save (for example
    ///     <c>c =&gt; c.DatabaseValue</c>, or a combination of both).
    /// </param>
    /// <exception cref="InvalidOperationException">The row was deleted, or this client was deleting it: there is nothing to merge.</exception>
    public void Merge(Func<PropertyConflict, object?> resolve)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        ApplyMerge(GetDatabaseValues(), resolve, clientWins: false);
    }

    /// <inheritdoc cref="Merge" />
    /// <param name="resolve">
    ///     Called for each property both sides changed to different values; returns the value to save.
    /// </param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>A task that completes when the entity is ready to be saved again.</returns>
    public async Task MergeAsync(Func<PropertyConflict, object?> resolve, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resolve);
        ApplyMerge(await GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false), resolve, clientWins: false);
    }

    /// <summary>Copies the entry's values; called once the save's own version changes were undone.</summary>
    internal void CaptureValues()
    {
        ProposedValues = Entry.CurrentValues.Clone();
        OriginalValues = RecordsOriginalValues ? Entry.OriginalValues.Clone() : RecordedOriginalValues();
    }

    /// <summary>
    ///     Whether EF keeps the loaded value of every property. With <c>ChangingAndChangedNotifications</c> it keeps only
    ///     those of keys, foreign keys and concurrency tokens (the version among them).
    /// </summary>
    private bool RecordsOriginalValues
        => Entry.Metadata.GetChangeTrackingStrategy() != ChangeTrackingStrategy.ChangingAndChangedNotifications;

    /// <summary>A copy of the current values with the original value of every property EF recorded one for.</summary>
    private PropertyValues RecordedOriginalValues()
    {
        var values = Entry.CurrentValues.Clone();
        foreach (var property in Entry.Metadata.GetProperties())
        {
            try
            {
                values[property] = Entry.Property(property).OriginalValue;
            }
            catch (InvalidOperationException)
            {
                // EF recorded no original value for this property under this tracking strategy.
            }
        }

        return values;
    }

    /// <summary>Keeping the client's values or merging needs to know what the client changed, which needs its loaded values.</summary>
    private void RequireOriginalValues()
    {
        if (!RecordsOriginalValues)
        {
            throw new InvalidOperationException(
                $"{EntityDescription} uses the ChangingAndChangedNotifications tracking strategy, which does not record the "
                + "values it was loaded with, so its conflict cannot be merged or saved over. Use "
                + "ChangingAndChangedNotificationsWithOriginalValues (or snapshot tracking) for this entity type, or call "
                + "KeepDatabaseValues.");
        }
    }

    private void ApplyDatabaseValues(PropertyValues? database)
    {
        if (database is null)
        {
            Entry.State = EntityState.Detached;
            return;
        }

        if (RecordsOriginalValues)
        {
            Entry.OriginalValues.SetValues(database);
            Entry.CurrentValues.SetValues(database);
            Entry.State = EntityState.Unchanged;
            return;
        }

        // Without recorded originals EF cannot reject the changes in place: re-attach the entity with the database's
        // values, which records them as the loaded ones.
        Entry.State = EntityState.Detached;
        Entry.CurrentValues.SetValues(database);
        Entry.State = EntityState.Unchanged;
    }

    private void ApplyMerge(PropertyValues? database, Func<PropertyConflict, object?> resolve, bool clientWins)
    {
        RequireOriginalValues();
        if (database is null)
        {
            throw new InvalidOperationException(
                $"{EntityDescription} was deleted by someone else, so there is nothing to save over or merge with. "
                + "Call KeepDatabaseValues to accept the deletion, or add the entity again as a new one.");
        }

        if (Entry.State == EntityState.Deleted)
        {
            if (!clientWins)
            {
                throw new InvalidOperationException(
                    $"{EntityDescription} was being deleted by this client, so there is nothing to merge. "
                    + "Call KeepClientValues to delete it anyway, or KeepDatabaseValues to keep the other change.");
            }

            // The delete is now checked against the row's current version (current = original, or it would count as an
            // expected version set by the application).
            Entry.OriginalValues.SetValues(database);
            Entry.Property(_versionProperty).CurrentValue = database[_versionProperty];
            return;
        }

        // Decide every value first, so a throwing callback leaves the entry as it was.
        var properties = Entry.Metadata.GetProperties().ToList();
        var merged = ThreeWayMerge.Decide(properties, _versionProperty, OriginalValues, ProposedValues, database, resolve, clientWins);

        // Checked against the version read, written with the merged values; properties equal to the database's are not written.
        Entry.OriginalValues.SetValues(database);
        for (var i = 0; i < properties.Count; i++)
        {
            var property = properties[i];
            if (property.IsPrimaryKey())
            {
                continue;
            }

            var entry = Entry.Property(property);
            entry.CurrentValue = merged[i];
            entry.IsModified = property != _versionProperty && !ThreeWayMerge.AreEqual(property, merged[i], database[property]);
        }

        if (Entry.State == EntityState.Unchanged)
        {
            Entry.State = EntityState.Modified; // the save still bumps the version, so the others see the merge
        }
    }

    internal string Describe()
        => !ActualVersionRead
            ? $"{EntityDescription} was modified or deleted by someone else: expected version {ExpectedVersion}."
            : WasDeleted
                ? $"{EntityDescription} was deleted by someone else: expected version {ExpectedVersion}, but the row no longer exists."
                : $"{EntityDescription} was modified by someone else: expected version {ExpectedVersion}, found {ActualVersion}.";
}
