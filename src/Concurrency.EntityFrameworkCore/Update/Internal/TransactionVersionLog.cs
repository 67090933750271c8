using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Versions written by saves inside a transaction of the application, kept until that transaction ends. When it is
///     rolled back (or disposed without a commit), the row has its old version again, so the entities must expect it
///     again too: otherwise the next save reports a false conflict, or, if another writer has meanwhile moved the row to
///     the version this save had written, overwrites that writer's change without noticing.
/// </summary>
internal sealed class TransactionVersionLog
{
    private readonly List<Entry> _entries = [];
    private readonly HashSet<DbTransaction> _begunByEf = [];

    /// <summary>Whether any saved version still waits for its transaction to end.</summary>
    public bool HasPending
        => _entries.Count > 0;

    public void Reset()
    {
        _entries.Clear();
        _begunByEf.Clear();
    }

    /// <summary>A transaction EF began (as opposed to one the application passed to <c>UseTransaction</c>).</summary>
    public void Begun(DbTransaction transaction)
        => _begunByEf.Add(transaction);

    /// <summary>Remembers the version changes of a successful save inside <paramref name="transaction" />.</summary>
    public void Saved(DbTransaction transaction, IReadOnlyList<VersionChange> changes)
    {
        foreach (var change in changes)
        {
            _entries.Add(new Entry(transaction, change, change.Property.OriginalValue, change.Property.CurrentValue));
        }
    }

    public void Committed(DbTransaction transaction)
    {
        _entries.RemoveAll(e => e.Transaction == transaction);
        _begunByEf.Remove(transaction);
    }

    /// <summary>Restores the versions the entities had before the saves in <paramref name="transaction" />.</summary>
    public void RolledBack(DbTransaction transaction, LoadedVersions loaded)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            var entry = _entries[i];
            if (entry.Transaction == transaction)
            {
                entry.Restore(loaded);
                _entries.RemoveAt(i);
            }
        }

        _begunByEf.Remove(transaction);
    }

    /// <summary>
    ///     Settles transactions that ended without EF reporting a commit or a rollback: one EF began and that is no longer
    ///     the context's transaction was disposed without a commit (a rollback); one the application passed in is assumed
    ///     committed (it may have been committed on the ADO.NET object directly, which EF does not see).
    /// </summary>
    public void Settle(DbTransaction? current, LoadedVersions loaded)
    {
        if (_entries.Count == 0)
        {
            return;
        }

        foreach (var transaction in _entries.Select(e => e.Transaction).Distinct().ToList())
        {
            if (transaction == current)
            {
                continue;
            }

            if (_begunByEf.Contains(transaction))
            {
                RolledBack(transaction, loaded);
            }
            else
            {
                Committed(transaction);
            }
        }
    }

    private readonly record struct Entry(DbTransaction Transaction, VersionChange Change, object? SavedOriginal, object? SavedCurrent)
    {
        /// <summary>Restores the values from before the save, if they are still the ones the save left.</summary>
        public void Restore(LoadedVersions loaded)
        {
            var property = Change.Property;
            if (property.EntityEntry.State == EntityState.Detached
                || !Equals(property.OriginalValue, SavedOriginal)
                || !Equals(property.CurrentValue, SavedCurrent))
            {
                return; // changed since (reloaded, resolved, edited): the application's values win
            }

            Change.Restore();
            var entity = property.EntityEntry.Entity;
            loaded.ForgetBump(entity);
            loaded.Record(entity, Change.Metadata.ToLong(Change.PreviousOriginal));
            if (Equals(Change.PreviousOriginal, Change.PreviousCurrent) && property.IsModified)
            {
                property.IsModified = false; // EF returns the entry to Unchanged when nothing else was modified
            }
        }
    }
}
