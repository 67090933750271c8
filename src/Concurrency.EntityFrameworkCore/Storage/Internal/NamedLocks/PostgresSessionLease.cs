using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     A PostgreSQL session advisory lock held on the context's connection, which stays open (EF's open count) until the
///     release. The loss check (<see cref="LockLossMonitor" />) starts only when <see cref="LostToken" /> is first read,
///     and is stopped before the release, so the release itself is never mistaken for a loss.
/// </summary>
internal sealed class PostgresSessionLease(LockRequest request, int backendPid) : NamedLockLease
{
    private readonly Lock _sync = new();
    private LockLossMonitor? _monitor;
    private bool _released;

    public override CancellationToken LostToken
    {
        get
        {
            lock (_sync)
            {
                if (_released)
                {
                    return CancellationToken.None;
                }

                _monitor ??= LockLossMonitor.Start(request.Context.Database.GetDbConnection(), backendPid, request.Key);
                return _monitor.Token;
            }
        }
    }

    public override async ValueTask ReleaseAsync(bool async)
    {
        LockLossMonitor? monitor;
        lock (_sync)
        {
            _released = true;
            monitor = _monitor;
        }

        if (monitor is not null)
        {
            await monitor.StopAsync(async).ConfigureAwait(false);
        }

        try
        {
            await PostgresNamedLocks.UnlockCommand(request.Context, request.Key)
                .ExecuteNonQueryAsync(async, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
        {
            // Lost (its connection died) or the context is gone: the server released the lock with the session.
        }

        try
        {
            await PostgresNamedLocks.CloseAsync(request.Context.Database, async).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
        {
        }

        request.Registry.ExitSession(request.Name);
    }
}
