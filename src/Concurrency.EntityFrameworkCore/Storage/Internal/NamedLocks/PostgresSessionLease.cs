using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     A PostgreSQL session advisory lock held on the context's connection, which stays open (EF's open count) until the
///     release. The loss check (<see cref="LockLossMonitor" />) starts only when <see cref="LostToken" /> is first read,
///     and is stopped before the release, so the release itself is never mistaken for a loss. When the context lets go
///     of the connection first (the application closes it, the context is disposed or returned to a pool), the lock is
///     unlocked on that connection before it goes back to Npgsql's pool, and the handle reports the loss.
/// </summary>
internal sealed class PostgresSessionLease(LockRequest request, int backendPid) : NamedLockLease
{
    private readonly Lock _sync = new();

    // Kept from the acquisition: when the context is being disposed, its Database facade is no longer reachable.
    private readonly DbConnection _connection = request.Context.Database.GetDbConnection();
    private LockLossMonitor? _monitor;
    private bool _released;
    private bool _abandoned;
    private bool _unlockPending;

    public override bool LivesOnConnection
        => true;

    public override bool ReleasePending
    {
        get
        {
            lock (_sync)
            {
                return _unlockPending;
            }
        }
    }

    public override CancellationToken LostToken
    {
        get
        {
            lock (_sync)
            {
                if (_abandoned)
                {
                    return new CancellationToken(canceled: true);
                }

                if (_released)
                {
                    return CancellationToken.None;
                }

                _monitor ??= LockLossMonitor.Start(_connection, backendPid, request.Key);
                return _monitor.Token;
            }
        }
    }

    public override async ValueTask ReleaseAsync(bool async)
    {
        LockLossMonitor? monitor;
        lock (_sync)
        {
            if (_released)
            {
                return; // let go of already, when the context closed its connection or was reset
            }

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
        catch (DbException e) when (e.SqlState == "25P02")
        {
            // The application's transaction failed, and PostgreSQL refuses every statement until it ends: the unlock is
            // sent when it ends (the registry's TransactionEnded) or when the connection closes, whichever comes first, and
            // the name stays reserved until then.
            lock (_sync)
            {
                _unlockPending = true;
            }

            await CloseAsync(async).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
        {
            // Lost (its connection died) or the context is gone: the server released the lock with the session.
        }

        await CloseAsync(async).ConfigureAwait(false);
        request.Registry.ExitSession(request.Name, this);
    }

    public override async ValueTask AbandonAsync(DbConnection? connection, bool async)
    {
        LockLossMonitor? monitor;
        lock (_sync)
        {
            if (_released && !_unlockPending)
            {
                return;
            }

            _abandoned = !_released; // a handle not yet disposed learns that its lock is gone
            _released = true;
            _unlockPending = false;
            monitor = _monitor;
        }

        if (monitor is not null)
        {
            await (_abandoned ? monitor.LostAsync(async) : monitor.StopAsync(async)).ConfigureAwait(false);
        }

        try
        {
            connection ??= _connection;
            if (connection.State == System.Data.ConnectionState.Open)
            {
                // On the connection itself, not through EF: EF is closing, disposing or resetting it right now.
                var command = connection.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.CommandText = "SELECT pg_advisory_unlock(@k)";
                    var key = command.CreateParameter();
                    key.ParameterName = "k";
                    key.Value = request.Key;
                    command.Parameters.Add(key);
                    _ = async ? await command.ExecuteScalarAsync().ConfigureAwait(false) : command.ExecuteScalar();
                }
            }
            else
            {
                ForgetPooledSession(connection);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
        {
            // The connection is broken or gone, and with it the session's locks.
        }

        request.Registry.ExitSession(request.Name, this);
    }

    /// <summary>
    ///     The connection was closed before this lock could be unlocked on it (EF closes the context's connection on its
    ///     way to disposing it), so its session, with the lock, sits idle in Npgsql's pool until the connection is used
    ///     again. Clearing that pool (Npgsql's public static <c>ClearPool</c>, found by reflection: the core package does not
    ///     reference Npgsql) closes its idle sessions now, and the server releases their locks. It costs the pool's idle
    ///     connections, on a path only a handle its context outlived takes.
    /// </summary>
    private static void ForgetPooledSession(DbConnection connection)
    {
        var type = connection.GetType();
        type.GetMethod("ClearPool", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static, [type])
            ?.Invoke(null, [connection]);
    }

    private async ValueTask CloseAsync(bool async)
    {
        try
        {
            await PostgresNamedLocks.CloseAsync(request.Context.Database, async).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }
}
