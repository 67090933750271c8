using System.Data.Common;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     The names one context holds (a scoped service): a second acquisition of a name this context already holds, in
///     either form, is refused instead of silently succeeding (PostgreSQL advisory locks are re-entrant per session, so
///     the second would succeed and its release would free the first holder's lock early). Transaction-scoped entries end
///     with their transaction; leases that must be released then (SQLite's file locks) are released here.
/// </summary>
internal sealed class NamedLockRegistry : IResettableService, IDisposable
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, NamedLockLease?> _session = new(StringComparer.Ordinal);
    private readonly List<TransactionEntry> _transaction = [];

    /// <summary>
    ///     Whether this context holds (or is taking) any session lock: the cheap check that lets every connection close and
    ///     transaction end of a context without named locks skip the rest.
    /// </summary>
    public bool HoldsSessions
    {
        get
        {
            lock (_sync)
            {
                return _session.Count > 0;
            }
        }
    }

    /// <summary>Reserves <paramref name="name" /> for a session lock; throws when this context holds it already.</summary>
    public void EnterSession(string name, DbTransaction? current)
    {
        List<TransactionEntry> ended;
        lock (_sync)
        {
            ended = EndStale(current);
            ThrowIfHeld(name, current);
            _session.Add(name, null);
        }

        Release(ended);
    }

    /// <summary>Records the lease of a session lock reserved by <see cref="EnterSession" />, once it is held.</summary>
    public void AttachSession(string name, NamedLockLease lease)
    {
        lock (_sync)
        {
            _session[name] = lease;
        }
    }

    /// <summary>Ends the reservation of <paramref name="name" /> if it is still <paramref name="lease" />'s (or was never held).</summary>
    public void ExitSession(string name, NamedLockLease? lease)
    {
        lock (_sync)
        {
            if (_session.TryGetValue(name, out var current) && (current is null || ReferenceEquals(current, lease)))
            {
                _session.Remove(name);
            }
        }
    }

    /// <summary>
    ///     The context lets go of its session locks without their handles: its connection is closing or being disposed
    ///     (<paramref name="connectionBoundOnly" />: only the locks that live on it), or the context is reset for the next
    ///     user of a pool (all of them). Each is released and, if its handle was not disposed, reported lost; the names
    ///     are free for this context again.
    /// </summary>
    public async ValueTask AbandonSessionsAsync(DbConnection? connection, bool connectionBoundOnly, bool async)
    {
        List<NamedLockLease> abandoned;
        lock (_sync)
        {
            abandoned = [.. _session.Values.OfType<NamedLockLease>().Where(l => !connectionBoundOnly || l.LivesOnConnection)];
            foreach (var name in _session.Where(e => e.Value is not null && abandoned.Contains(e.Value)).Select(e => e.Key).ToList())
            {
                _session.Remove(name);
            }
        }

        foreach (var lease in abandoned)
        {
            await lease.AbandonAsync(connection, async).ConfigureAwait(false);
        }
    }

    /// <summary>Reserves <paramref name="name" /> for a lock of the transaction <paramref name="transaction" />.</summary>
    public void EnterTransaction(string name, DbTransaction transaction)
    {
        List<TransactionEntry> ended;
        lock (_sync)
        {
            ended = EndStale(transaction);
            ThrowIfHeld(name, transaction);
            _transaction.Add(new TransactionEntry(name, transaction));
        }

        Release(ended);
    }

    /// <summary>Undoes <see cref="EnterTransaction" /> after a failed acquisition.</summary>
    public void ExitTransaction(string name, DbTransaction transaction)
    {
        lock (_sync)
        {
            _transaction.RemoveAll(e => e.Transaction == transaction && e.Name == name);
        }
    }

    /// <summary>Gives the transaction lock of <paramref name="name" /> a lease to release when the transaction ends.</summary>
    public void AttachLease(string name, DbTransaction transaction, NamedLockLease lease)
    {
        lock (_sync)
        {
            var index = _transaction.FindIndex(e => e.Transaction == transaction && e.Name == name);
            if (index >= 0)
            {
                _transaction[index] = _transaction[index] with { Lease = lease };
                return;
            }
        }

        lease.ReleaseAsync(async: false).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>The transaction committed, rolled back or failed: its locks are gone (PostgreSQL) or released now (SQLite).</summary>
    public void TransactionEnded(DbTransaction? transaction)
    {
        List<TransactionEntry> ended;
        List<NamedLockLease> pending;
        lock (_sync)
        {
            if (_transaction.Count == 0 && _session.Count == 0)
            {
                return; // the usual case: a context without named locks
            }

            ended = _transaction.Where(e => transaction is null || e.Transaction == transaction).ToList();
            _transaction.RemoveAll(ended.Contains);
            pending = [.. _session.Values.OfType<NamedLockLease>().Where(l => l.ReleasePending)];
        }

        Release(ended);

        // Session locks whose handles were disposed while the transaction had failed: their unlock can be sent now.
        foreach (var lease in pending)
        {
            lease.AbandonAsync(null, async: false).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    ///     A rollback to a savepoint of <paramref name="transaction" />: on PostgreSQL it releases the transaction locks taken
    ///     after that savepoint, and EF does not say which savepoint it was. So the lease-less (PostgreSQL) entries of the
    ///     transaction are forgotten, letting the application take such a lock again; taking one again that is still held is
    ///     harmless (PostgreSQL counts it, and both end with the transaction). SQLite's file locks (entries with a lease) stay
    ///     held until the transaction ends, so their entries stay.
    /// </summary>
    public void RolledBackToSavepoint(DbTransaction transaction)
    {
        lock (_sync)
        {
            _transaction.RemoveAll(e => e.Transaction == transaction && e.Lease is null);
        }
    }

    /// <summary>The context is disposed or returned to a pool: whatever its handles still hold is let go, so the next user starts clean.</summary>
    public void ResetState()
    {
        AbandonSessionsAsync(null, connectionBoundOnly: false, async: false).AsTask().GetAwaiter().GetResult();
        TransactionEnded(null);
    }

    public async Task ResetStateAsync(CancellationToken cancellationToken = default)
    {
        await AbandonSessionsAsync(null, connectionBoundOnly: false, async: true).ConfigureAwait(false);
        TransactionEnded(null);
    }

    public void Dispose()
        => ResetState();

    private void ThrowIfHeld(string name, DbTransaction? current)
    {
        if (_session.ContainsKey(name))
        {
            throw new InvalidOperationException(
                $"The named lock '{name}' is already held through this context. Named locks are not re-entrant: dispose the first"
                + " handle before acquiring the name again, or do the work under one acquisition.");
        }

        if (_transaction.Any(e => e.Name == name && e.Transaction == current))
        {
            throw new InvalidOperationException(
                $"The named lock '{name}' is already held by this context's current transaction. Named locks are not re-entrant:"
                + " the lock is kept until the transaction commits or rolls back; do not acquire it again inside it.");
        }
    }

    /// <summary>Entries of a transaction that is no longer the context's current one (it ended without an event we saw).</summary>
    private List<TransactionEntry> EndStale(DbTransaction? current)
    {
        var stale = _transaction.Where(e => e.Transaction != current).ToList();
        _transaction.RemoveAll(stale.Contains);
        return stale;
    }

    private static void Release(List<TransactionEntry> entries)
    {
        foreach (var entry in entries)
        {
            entry.Lease?.ReleaseAsync(async: false).AsTask().GetAwaiter().GetResult();
        }
    }

    private sealed record TransactionEntry(string Name, DbTransaction Transaction, NamedLockLease? Lease = null);
}
