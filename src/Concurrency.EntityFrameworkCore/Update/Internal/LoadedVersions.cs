using System.Runtime.CompilerServices;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Remembers, per tracked entity, the version EF last synchronized with the database (when the entity was loaded or
///     attached, and whenever EF accepts its changes), and a save's own version bump that EF has not accepted yet.
/// </summary>
/// <remarks>
///     EF keeps two values per property, original and current, and the two disconnected-update idioms change different
///     ones: <c>entity.Version = dto.Version</c> writes the current value, EF's documented
///     <c>Entry(e).Property(p).OriginalValue = dto.Version</c> writes the original one. When they differ, the loaded
///     version tells which of them the application wrote: that one is the client's version, the one the row must still
///     have. Weak references only: an entity no longer referenced elsewhere is forgotten with it.
/// </remarks>
internal sealed class LoadedVersions
{
    private ConditionalWeakTable<object, State> _states = new();
    private EventHandler<EntityTrackedEventArgs>? _onTracked;
    private EventHandler<EntityStateChangedEventArgs>? _onStateChanged;
    private DbContext? _observed;

    /// <summary>Subscribes to the change tracker's events of <paramref name="context" />, once.</summary>
    public void Observe(DbContext context)
    {
        if (_observed == context)
        {
            return;
        }

        _observed = context;
        _onTracked ??= (_, e) => Record(e.Entry);
        _onStateChanged ??= (_, e) =>
        {
            if (e.NewState is EntityState.Unchanged)
            {
                Record(e.Entry);
            }
        };
        context.ChangeTracker.Tracked += _onTracked;
        context.ChangeTracker.StateChanged += _onStateChanged;
    }

    /// <summary>
    ///     Forgets every record and the subscription: a pooled context's change tracker drops its event handlers when the
    ///     context returns to the pool, so the next lease must subscribe again.
    /// </summary>
    public void Reset()
    {
        _observed = null;
        _states = new ConditionalWeakTable<object, State>();
    }

    /// <summary>Records the version an entity was materialized with, before EF tracks it.</summary>
    public void Record(object entity, long version)
    {
        var state = _states.GetOrCreateValue(entity);
        state.Loaded = version;
        state.HasLoaded = true;
        state.HasBump = false;
    }

    /// <summary>
    ///     Records that a successful save wrote <paramref name="to" /> over <paramref name="from" /> while EF did not accept
    ///     the changes (<c>SaveChanges(acceptAllChangesOnSuccess: false)</c>): a later save of the same values still expects
    ///     <paramref name="from" />, not the bumped value.
    /// </summary>
    public void RecordUnacceptedBump(object entity, long from, long to)
    {
        var state = _states.GetOrCreateValue(entity);
        state.BumpFrom = from;
        state.BumpTo = to;
        state.HasBump = true;
    }

    /// <summary>Forgets a pending bump (its transaction rolled back, so the row has the old version again).</summary>
    public void ForgetBump(object entity)
    {
        if (_states.TryGetValue(entity, out var state))
        {
            state.HasBump = false;
        }
    }

    /// <summary>
    ///     The version a save must find in the row, from the entry's original and current version: equal, they are it;
    ///     different, the one the application wrote (see the remarks of this type). Without a record of what was loaded
    ///     (an entity attached before this context ran a query or a save), a value written into the property wins, as
    ///     long as it is a possible version (positive).
    /// </summary>
    public long ExpectedVersion(object entity, long original, long current)
    {
        if (original == current)
        {
            return original;
        }

        if (_states.TryGetValue(entity, out var state))
        {
            if (state.HasBump && original == state.BumpFrom && current == state.BumpTo)
            {
                return original; // our own bump of a save EF did not accept: the row still has the original
            }

            if (state.HasLoaded)
            {
                if (current == state.Loaded)
                {
                    return original; // the application set the original value: EF's documented idiom
                }

                if (original == state.Loaded)
                {
                    return current; // the application wrote the client's version into the property
                }
            }
        }

        return current > 0 ? current : original;
    }

    private void Record(EntityEntry entry)
    {
        if (VersionFieldMetadata.Find(entry.Metadata) is { } metadata)
        {
            Record(entry.Entity, metadata.ToLong(entry.Property(metadata.Property).OriginalValue));
        }
    }

    private sealed class State
    {
        public long Loaded;
        public bool HasLoaded;
        public long BumpFrom;
        public long BumpTo;
        public bool HasBump;
    }
}
