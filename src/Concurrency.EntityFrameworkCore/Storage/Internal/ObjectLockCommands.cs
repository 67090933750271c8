using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     Lock and unlock: decided and written under the row's lock in one short transaction (or in the application's
///     transaction), so two clients can never both lock, and a lock is never lost to a concurrent unlock.
/// </summary>
internal static class ObjectLockCommands
{
    public static async Task<ObjectLockState> ChangeAsync(
        DbContext context,
        object entity,
        bool lockIt,
        TimeSpan? lease,
        bool force,
        bool async,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(entity);
        var entry = context.Entry(entity);
        var metadata = ObjectLockMetadata.Require(entry);
        if (lease is { } span)
        {
            if (span <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(lease), span, "A lease must be longer than zero.");
            }

            if (metadata.LockExpiresAt is null)
            {
                // An argument error (not a state error), so that callers such as the HTTP lock endpoint can tell the
                // caller's lease apart from a failure of the lock itself.
                throw new ArgumentException(
                    $"'{entry.Metadata.DisplayName()}' has no lease property, so it cannot be locked with a lease. Implement "
                    + "ILeasedLockable, or pass lockExpiresAt to HasObjectLock, or lock without a lease.",
                    nameof(lease));
            }
        }

        switch (entry.State)
        {
            case EntityState.Added:
                throw new InvalidOperationException(
                    $"{metadata.Describe(entry)} has not been saved yet, so it has no row to lock. Save it first, or add it with its lock property set.");
            case EntityState.Detached:
                entry.State = EntityState.Unchanged; // locks work by key; track the entity so its values can be refreshed
                break;
        }

        var database = context.Database;
        IDbContextTransaction? own = null;
        if (database.CurrentTransaction is null && System.Transactions.Transaction.Current is null)
        {
            own = async ? await database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false) : database.BeginTransaction();
        }

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
            // Neither a query nor a save: interceptors see these commands with an unknown source.
            const CommandSource source = CommandSource.Unknown;
            var lockClause = context.GetService<DatabaseDialect>().RowLockClause;
            var states = await ObjectLockStore.ReadAsync(context, source, [(entry, metadata)], lockClause, async, cancellationToken)
                .ConfigureAwait(false);
            var description = metadata.Describe(entry);
            var current = states[0]
                ?? throw new InvalidOperationException($"{description} no longer exists, so it cannot be {(lockIt ? "locked" : "unlocked")}.");
            var now = DateTimeOffset.UtcNow;
            var owner = ObjectLockOwner.Current;
            ObjectLockState next;
            if (lockIt)
            {
                if (current.IsHeldAt(now))
                {
                    throw new ObjectAlreadyLockedException(entry, description, metadata.KeyOf(entry), current);
                }

                next = new ObjectLockState(
                    true,
                    metadata.LockedBy is null ? null : owner,
                    metadata.LockedAt is null ? null : now,
                    lease is { } duration ? now + duration : null);
            }
            else
            {
                if (!current.IsHeldAt(now))
                {
                    throw new ObjectAlreadyUnlockedException(entry, description, metadata.KeyOf(entry), current);
                }

                if (!force && current.LockedBy is not null && current.LockedBy != owner)
                {
                    throw new ObjectLockedException(entry, description, metadata.KeyOf(entry), current, "unlocked by someone else");
                }

                next = new ObjectLockState(false, null, null, null);
            }

            var versioned = VersionFieldMetadata.Find(entry.Metadata) is { } version ? [(entry, version)] : Array.Empty<(EntityEntry, VersionFieldMetadata)>();
            var before = versioned.Length == 0 ? null
                : (await VersionQuery.ReadAsync(context, source, versioned, string.Empty, async, cancellationToken).ConfigureAwait(false))[0];
            await ObjectLockStore.WriteAsync(context, source, entry, metadata, next, async, cancellationToken).ConfigureAwait(false);
            var after = versioned.Length == 0 ? null
                : (await VersionQuery.ReadAsync(context, source, versioned, string.Empty, async, cancellationToken).ConfigureAwait(false))[0];

            if (own is not null)
            {
                if (async)
                {
                    await own.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    own.Commit();
                }
            }

            Refresh(entry, metadata, next, before, after);
            return next;
        }
        finally
        {
            if (own is not null)
            {
                if (async)
                {
                    await own.DisposeAsync().ConfigureAwait(false); // rolls back when not committed
                }
                else
                {
                    own.Dispose();
                }
            }

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
    ///     Makes the tracked entity show the lock it now has. Its version is moved to the new one only when the client's
    ///     copy was current before the lock; a stale copy keeps its old version so that saving it still conflicts.
    /// </summary>
    private static void Refresh(EntityEntry entry, ObjectLockMetadata metadata, ObjectLockState state, long? before, long? after)
    {
        var values = new object?[] { state.IsLocked, state.LockedBy, state.LockedAt, state.LockExpiresAt };
        var all = new[] { metadata.IsLocked, metadata.LockedBy, metadata.LockedAt, metadata.LockExpiresAt };
        for (var i = 0; i < all.Length; i++)
        {
            if (all[i] is { } property)
            {
                var value = entry.Property(property);
                value.OriginalValue = values[i];
                value.CurrentValue = values[i];
            }
        }

        if (VersionFieldMetadata.Find(entry.Metadata) is { } version && before is { } previous && after is { } next)
        {
            var property = entry.Property(version.Property);
            if (SaveSession.ExpectedVersion(entry, version) == previous)
            {
                property.OriginalValue = version.FromLong(next);
                property.CurrentValue = version.FromLong(next);
            }
        }
    }
}
