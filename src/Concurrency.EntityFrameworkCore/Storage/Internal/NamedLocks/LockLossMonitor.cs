using System.Data.Common;
using System.Globalization;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     Notices that a PostgreSQL session lock was lost: once a second, on a connection of its own (a clone of the
///     context's, from the pool), asks <c>pg_locks</c> whether the holder's backend still holds the key; when it does not
///     (the backend was terminated, its connection broke), cancels <see cref="Token" />. The holder's connection is not
///     used, so the check never competes with the application's commands on its context. A failure of the check's own
///     connection is not a loss: it tries again at the next tick.
/// </summary>
internal sealed class LockLossMonitor
{
    /// <summary>Time between two checks.</summary>
    internal static TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    private LockLossMonitor()
    {
    }

    public CancellationToken Token
        => _lost.Token;

    public static LockLossMonitor Start(DbConnection holder, int backendPid, long key)
    {
        var template = holder as ICloneable
            ?? throw new NotSupportedException($"HandleLostToken needs a connection that can be cloned; '{holder.GetType().Name}' cannot.");
        var (classId, objId) = LockKey.PgLocksColumns(key);
        var sql = string.Format(
            CultureInfo.InvariantCulture,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = {0} AND objsubid = 1"
            + " AND classid::bigint = {1} AND objid::bigint = {2} AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            backendPid,
            classId,
            objId);
        var monitor = new LockLossMonitor();
        monitor._loop = Task.Run(() => monitor.RunAsync((DbConnection)template.Clone(), sql));
        return monitor;
    }

    /// <summary>The lock is known to be gone (its context let go of it): cancels <see cref="Token" />, then stops.</summary>
    public async ValueTask LostAsync(bool async)
    {
        await _lost.CancelAsync().ConfigureAwait(false);
        await StopAsync(async).ConfigureAwait(false);
    }

    public async ValueTask StopAsync(bool async)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (async)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else
        {
            _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
        }

        _stop.Dispose();
    }

    private async Task RunAsync(DbConnection connection, string sql)
    {
        await using (connection.ConfigureAwait(false))
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
                    if (connection.State != System.Data.ConnectionState.Open)
                    {
                        await connection.CloseAsync().ConfigureAwait(false);
                        await connection.OpenAsync(_stop.Token).ConfigureAwait(false);
                    }

                    var command = connection.CreateCommand();
                    await using (command.ConfigureAwait(false))
                    {
                        command.CommandText = sql;
                        if (Convert.ToInt64(await command.ExecuteScalarAsync(_stop.Token).ConfigureAwait(false), CultureInfo.InvariantCulture) == 0
                            && !_stop.IsCancellationRequested)
                        {
                            await _lost.CancelAsync().ConfigureAwait(false);
                            return;
                        }
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (DbException)
                {
                    // The check's own connection failed: not a loss of the lock. Try again at the next tick.
                }
            }
        }
    }
}
