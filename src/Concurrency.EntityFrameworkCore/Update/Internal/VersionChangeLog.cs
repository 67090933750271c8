using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     The version values one save changed, with the values they had before, so that a failed save can restore what the
///     application had (a retry or a conflict resolution then starts from what it loaded), and a successful one can be
///     handed to <see cref="TransactionVersionLog" />.
/// </summary>
internal sealed class VersionChangeLog
{
    private readonly List<VersionChange> _changes = [];

    public int Count
        => _changes.Count;

    public IReadOnlyList<VersionChange> Items
        => _changes;

    public void Add(PropertyEntry property, VersionFieldMetadata metadata, object? previousOriginal, object? previousCurrent)
        => _changes.Add(new VersionChange(property, metadata, previousOriginal, previousCurrent));

    /// <summary>Whether this save already changed the version of <paramref name="entity" />.</summary>
    public bool Contains(object entity)
    {
        foreach (var change in _changes)
        {
            if (ReferenceEquals(change.Property.EntityEntry.Entity, entity))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Restores every version value changed by this save, newest first.</summary>
    public void Revert()
    {
        for (var i = _changes.Count - 1; i >= 0; i--)
        {
            _changes[i].Restore();
        }

        _changes.Clear();
    }

    public void Clear()
        => _changes.Clear();
}

/// <summary>One version value changed by a save, and what it was before.</summary>
internal readonly record struct VersionChange(PropertyEntry Property, VersionFieldMetadata Metadata, object? PreviousOriginal, object? PreviousCurrent)
{
    /// <summary>Puts the previous values back, unless the entity is no longer tracked (the tracker was cleared).</summary>
    public void Restore()
    {
        if (Property.EntityEntry.State == EntityState.Detached)
        {
            return;
        }

        Property.CurrentValue = PreviousCurrent;
        Property.OriginalValue = PreviousOriginal;
    }
}
