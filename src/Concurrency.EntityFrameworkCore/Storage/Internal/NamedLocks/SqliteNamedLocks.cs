using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     SQLite named locks: an OS file lock (<see cref="FileLock" />) on <c>{database file}.locks/{key}.lock</c>, so
///     processes on the same machine sharing the database file exclude each other, and a killed holder's lock is free at
///     once. An in-memory database has no file: its locks are in-process only. The fencing token is a counter row,
///     incremented (created on first use) in one statement once the lock is held.
/// </summary>
internal sealed class SqliteNamedLocks : NamedLockStrategy
{
    public static readonly SqliteNamedLocks Instance = new();

    public const string TokenTable = "\"__concurrency_lock_token\"";

    public override async Task<NamedLockHandle?> AcquireAsync(LockRequest request, bool async, CancellationToken cancellationToken)
    {
        var (fileLock, token) = await LockAsync(request, async, cancellationToken).ConfigureAwait(false);
        return fileLock is null ? null : new NamedLockHandle(request.Name, token, new Lease(fileLock, request));
    }

    public override async Task<long?> AcquireTransactionAsync(LockRequest request, bool async, CancellationToken cancellationToken)
    {
        var (fileLock, token) = await LockAsync(request, async, cancellationToken).ConfigureAwait(false);
        if (fileLock is null)
        {
            return null;
        }

        request.Registry.AttachLease(request.Name, request.Context.Database.CurrentTransaction!.GetDbTransaction(), new Lease(fileLock, null));
        return token;
    }

    private static async Task<(FileLock? Lock, long Token)> LockAsync(LockRequest request, bool async, CancellationToken cancellationToken)
    {
        var database = request.Context.Database;
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
            // Open, DataSource is the database file's full path as SQLite resolved it; empty for an in-memory database.
            var connection = database.GetDbConnection();
            var file = connection.DataSource;
            var path = string.IsNullOrEmpty(file) ? null : Path.Combine(file + ".locks", LockKey.ToHex(request.Key) + ".lock");
            var gateKey = path ?? "memory:" + InMemoryName(connection.ConnectionString) + "\0" + request.Name;
            var fileLock = await FileLock.AcquireAsync(gateKey, path, request.Timeout, async, cancellationToken).ConfigureAwait(false);
            if (fileLock is null)
            {
                return (null, 0);
            }

            try
            {
                return (fileLock, await NextTokenAsync(request.Context, async, cancellationToken).ConfigureAwait(false));
            }
            catch
            {
                fileLock.Release();
                throw;
            }
        }
        finally
        {
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
    ///     The name of an in-memory database (its Data Source), not the whole connection string: two spellings of one shared
    ///     database ("Data Source=x;Mode=Memory;Cache=Shared" and "Mode=Memory;Cache=Shared;Data Source=x") share its locks.
    /// </summary>
    private static string InMemoryName(string connectionString)
    {
        var builder = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        foreach (var keyword in (string[])["Data Source", "DataSource", "Filename"])
        {
            if (builder.TryGetValue(keyword, out var value) && value is string name)
            {
                return name;
            }
        }

        return string.Empty;
    }

    private static async Task<long> NextTokenAsync(DbContext context, bool async, CancellationToken cancellationToken)
    {
        var command = new ContextCommand(context, CommandSource.Unknown).Append(
            $"CREATE TABLE IF NOT EXISTS {TokenTable} (\"Id\" INTEGER PRIMARY KEY CHECK (\"Id\" = 1), \"Value\" INTEGER NOT NULL);\n"
            + $"INSERT INTO {TokenTable} (\"Id\", \"Value\") VALUES (1, 1) ON CONFLICT (\"Id\") DO UPDATE SET \"Value\" = \"Value\" + 1 RETURNING \"Value\"");
        var reader = await command.ExecuteReaderAsync(async, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var data = reader.DbDataReader;
            while (data.FieldCount == 0 && (async ? await data.NextResultAsync(cancellationToken).ConfigureAwait(false) : data.NextResult()))
            {
            }

            _ = async ? await data.ReadAsync(cancellationToken).ConfigureAwait(false) : data.Read();
            return data.GetInt64(0);
        }
    }

    /// <summary>Releases the file lock (and, for a session lock, the context's reservation of the name).</summary>
    private sealed class Lease(FileLock fileLock, LockRequest? session) : NamedLockLease
    {
        private int _released;

        public override ValueTask ReleaseAsync(bool async)
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return ValueTask.CompletedTask; // released already, when its context was disposed or reset
            }

            fileLock.Release();
            session?.Registry.ExitSession(session.Name, this);
            return ValueTask.CompletedTask;
        }
    }
}
