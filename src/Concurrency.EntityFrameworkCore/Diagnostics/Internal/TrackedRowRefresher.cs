using System.Data.Common;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.ChangeTracking.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

// EF1001: IStateManager is EF's "internal" change tracker service. Its Count and identity-map lookup by key are what EF's
// own shaper uses to resolve a row to a tracked entity; the public lookup (DbSet.Local.FindEntry) needs the CLR type
// statically and runs DetectChanges over the whole context on every call, which the lock must not cost.
#pragma warning disable EF1001

/// <summary>
///     Closes the stale-tracked-entity trap of a locking query. EF's identity resolution returns an entity the context
///     already tracks with the values it was loaded with, not the locked row's: a read-modify-write would save over
///     another writer's committed change, silently. As each row is read (before EF's shaper resolves it), the tracked
///     entity with that key gets the row's values as its original values, and as its current values for every property
///     the application has not changed ("preserve changes"), so the query never hands back stale values. Created only when
///     the context tracks entities of a locked type; a query without tracked rows of its type reads through unwrapped.
/// </summary>
internal sealed class TrackedRowRefresher
{
    private readonly DbContext _context;
    private readonly IStateManager _stateManager;
    private readonly RowLockCommandTag _tag;
    private readonly IReadOnlyList<RowLockReadEntity> _entities;
    private readonly LoadedVersions _loaded;
    private readonly bool _skipOtherShapes;
    private bool? _matches;

    private TrackedRowRefresher(
        DbContext context,
        IStateManager stateManager,
        RowLockCommandTag tag,
        IReadOnlyList<RowLockReadEntity> entities,
        LoadedVersions loaded,
        bool skipOtherShapes)
    {
        _context = context;
        _stateManager = stateManager;
        _tag = tag;
        _entities = entities;
        _loaded = loaded;
        _skipOtherShapes = skipOtherShapes;
    }

    /// <summary>
    ///     A refresher for the command, or null when the context tracks no entity of the types it locks (the usual case,
    ///     checked first with the tracker's count, so it costs nothing when the tracker is empty).
    /// </summary>
    /// <param name="context">The context the command runs for.</param>
    /// <param name="stateManager">The context's change tracker (<c>context.GetService&lt;IStateManager&gt;()</c>).</param>
    /// <param name="tag">The command's row-lock tag, with its <see cref="RowLockReadPlan" />.</param>
    /// <param name="loaded">The versions the context's entities were loaded with, updated with the refreshed ones.</param>
    /// <param name="skipOtherShapes">
    ///     Whether a command whose columns are not the plan's is left alone (SQLite: EF copies the plan's tag to a split
    ///     query's dependent commands, which read other rows), rather than refused.
    /// </param>
    public static TrackedRowRefresher? For(DbContext context, IStateManager stateManager, RowLockCommandTag tag, LoadedVersions loaded, bool skipOtherShapes)
    {
        if (stateManager.Count == 0 || tag.Plan(context.Model) is not { Entities: { Count: > 0 } entities })
        {
            return null;
        }

        List<RowLockReadEntity>? tracked = null;
        foreach (var entity in entities)
        {
            if (stateManager.GetEntries(entity.Key).Any())
            {
                (tracked ??= []).Add(entity);
            }
        }

        return tracked is null ? null : new TrackedRowRefresher(context, stateManager, tag, tracked, loaded, skipOtherShapes);
    }

    /// <summary>Refreshes the tracked entities of the reader's current row.</summary>
    public void Refresh(DbDataReader reader)
    {
        _matches ??= _tag.ColumnsChecked || Matches(reader);
        if (_matches == false)
        {
            return;
        }

        foreach (var entity in _entities)
        {
            var keyValues = new object?[entity.Key.Properties.Count];
            var complete = true;
            for (var i = 0; i < keyValues.Length && complete; i++)
            {
                complete = entity.KeyColumns[i] is { } column && (keyValues[i] = column.Read(reader)) is not null;
            }

            if (!complete
                || _stateManager.TryGetEntry(entity.Key, keyValues) is not { } tracked
                || tracked.EntityState is EntityState.Added or EntityState.Detached)
            {
                continue;
            }

            if (entity.UnsupportedReason is { } reason)
            {
                throw new InvalidOperationException(
                    $"A locking query read a row of '{entity.EntityType.DisplayName()}' that this context already tracks, and the"
                    + $" library cannot refresh the tracked entity from the locked row because {reason}. EF would hand back the"
                    + " tracked entity with the values it was loaded with, and saving it would overwrite another writer's change."
                    + " Run the locking query in a fresh context, call context.ChangeTracker.Clear() before it, or use AsNoTracking().");
            }

            Apply(_context.Entry(tracked.Entity), entity, reader);
        }
    }

    /// <summary>
    ///     Whether the reader's columns are the ones the plan was made for; refuses a mismatch unless told to skip it. A match
    ///     is remembered on the command's tag: the same command text always has the same columns.
    /// </summary>
    private bool Matches(DbDataReader reader)
    {
        foreach (var entity in _tag.Plan(_context.Model)!.Entities)
        {
            foreach (var column in entity.Columns)
            {
                if (column.Ordinal < reader.FieldCount && reader.GetName(column.Ordinal) == column.Alias)
                {
                    continue;
                }

                return _skipOtherShapes
                    ? false
                    : throw new InvalidOperationException(
                        $"A locking query on '{column.Property.DeclaringType.DisplayName()}' returned a column '{(column.Ordinal < reader.FieldCount ? reader.GetName(column.Ordinal) : "(none)")}'"
                        + $" where '{column.Alias}' ({column.Property.Name}) was expected, so the entities this context already tracks"
                        + " cannot be refreshed from the locked rows. Run the locking query in a fresh context, call"
                        + " context.ChangeTracker.Clear() before it, or use AsNoTracking().");
            }
        }

        _tag.ColumnsChecked = true;
        return true;
    }

    /// <summary>EF's "preserve changes": original values from the row; current values too, where the application has not changed them.</summary>
    private void Apply(EntityEntry entry, RowLockReadEntity entity, DbDataReader reader)
    {
        var deleted = entry.State == EntityState.Deleted;
        foreach (var column in entity.Columns)
        {
            if (column.Property.IsPrimaryKey()
                || column.Property.DeclaringType is not Microsoft.EntityFrameworkCore.Metadata.IEntityType declaring
                || !declaring.IsAssignableFrom(entry.Metadata))
            {
                continue; // the key matched already; a sibling type's property is not this entity's
            }

            var property = entry.Property(column.Property);
            var value = column.Read(reader);
            if (deleted)
            {
                property.OriginalValue = value;
                continue;
            }

            var changedByApplication = property.IsModified
                || !column.Property.GetValueComparer().Equals(property.CurrentValue, property.OriginalValue);
            property.OriginalValue = value;
            if (!changedByApplication)
            {
                property.CurrentValue = value;
                property.IsModified = false;
            }
        }

        if (VersionFieldMetadata.Find(entry.Metadata) is { } version)
        {
            _loaded.Record(entry.Entity, version.ToLong(entry.Property(version.Property).OriginalValue));
        }
    }
}
