using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     PostgreSQL named locks: advisory locks on the 64-bit <see cref="LockKey" /> of the name, taken on the context's
///     own connection through EF's command pipeline. A free lock is taken by one short statement that also draws the
///     fencing token from a sequence (<c>pg_try_advisory_lock</c>, then <c>nextval</c>), so an uncontended acquisition
///     is one round trip and a release one more. A busy lock is then waited for by a second statement (the server
///     queues the waiter: no polling) that sets and restores <c>lock_timeout</c> around the wait:
///     <code>
///     WITH o AS MATERIALIZED (SELECT current_setting('lock_timeout') AS old),
///          s AS MATERIALIZED (SELECT o.old, set_config('lock_timeout', @t, true) FROM o),
///          l AS MATERIALIZED (SELECT s.old, pg_advisory_lock(@k) FROM s)
///     SELECT true, nextval('"__concurrency_lock_token"'), pg_backend_pid(), set_config('lock_timeout', l.old, true) FROM l
///     </code>
///     Inside the application's transaction the statement runs between <c>SAVEPOINT</c> and <c>RELEASE SAVEPOINT</c> in
///     the same command, so a timeout rolls back to the savepoint instead of aborting the transaction.
/// </summary>
internal sealed class PostgresNamedLocks : NamedLockStrategy
{
    public static readonly PostgresNamedLocks Instance = new();

    /// <summary>The sequence of fencing tokens, in the first schema of the connection's search_path.</summary>
    public const string Sequence = "\"__concurrency_lock_token\"";

    private const string Savepoint = "__concurrency_named_lock";

    /// <summary>Extra seconds of client-side command timeout beyond the lock wait, so the server's lock_timeout ends the wait first.</summary>
    private const int CommandTimeoutMargin = 15;

    /// <summary>The databases (server and name) whose token sequence this process has created or found.</summary>
    private static readonly ConcurrentDictionary<string, bool> SequenceReady = new(StringComparer.Ordinal);

    public override async Task<NamedLockHandle?> AcquireAsync(LockRequest request, bool async, CancellationToken cancellationToken)
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

        NamedLockHandle? handle = null;
        try
        {
            if (await LockAsync(request, transactionScoped: false, async, cancellationToken).ConfigureAwait(false) is { } held)
            {
                handle = new NamedLockHandle(request.Name, held.Token, new PostgresSessionLease(request, held.BackendPid));
            }

            return handle;
        }
        finally
        {
            if (handle is null)
            {
                await CloseAsync(database, async).ConfigureAwait(false);
            }
        }
    }

    public override async Task<long?> AcquireTransactionAsync(LockRequest request, bool async, CancellationToken cancellationToken)
        => (await LockAsync(request, transactionScoped: true, async, cancellationToken).ConfigureAwait(false))?.Token;

    /// <summary>The statement that releases a session lock (1 round trip).</summary>
    public static ContextCommand UnlockCommand(DbContext context, long key)
    {
        var command = new ContextCommand(context, CommandSource.Unknown);
        var k = command.AddParameter(typeof(long), key);
        return command.Append($"SELECT pg_advisory_unlock({k})");
    }

    public static async ValueTask CloseAsync(DatabaseFacade database, bool async)
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

    private static async Task<(long Token, int BackendPid)?> LockAsync(
        LockRequest request,
        bool transactionScoped,
        bool async,
        CancellationToken cancellationToken)
    {
        var context = request.Context;

        // An uncontended lock is taken by the short try statement alone (one round trip, no lock_timeout juggling); only
        // when it is busy does the second statement wait in the server's queue.
        var tryFirst = request.Timeout != TimeSpan.Zero;
        for (var attempt = 1; ; attempt++)
        {
            await EnsureSequenceAsync(context, async, cancellationToken).ConfigureAwait(false);
            var inTransaction = context.Database.CurrentTransaction is not null;
            var command = LockCommand(context, request, transactionScoped, inTransaction, tryOnly: tryFirst || request.Timeout == TimeSpan.Zero);
            var connection = context.GetService<IRelationalConnection>();
            var commandTimeout = connection.CommandTimeout;
            connection.CommandTimeout = request.Timeout is { } wait
                ? (int)Math.Min(int.MaxValue, Math.Ceiling(wait.TotalSeconds) + CommandTimeoutMargin)
                : 0; // Npgsql: no client-side limit; the wait ends when the lock is free or the token is cancelled
            try
            {
                var held = await ReadAsync(command, async, cancellationToken).ConfigureAwait(false);
                if (held is null && tryFirst)
                {
                    tryFirst = false;
                    attempt = 0;
                    continue;
                }

                return held;
            }
            catch (Exception e) when (e is DbException or OperationCanceledException)
            {
                await UndoAsync(context, request.Key, unlock: !transactionScoped, inTransaction, async).ConfigureAwait(false);
                switch ((e as DbException)?.SqlState)
                {
                    case "42P01" when attempt == 1: // the sequence was dropped since this process created it
                        SequenceReady.Clear();
                        continue;
                    case "55P03": // lock_timeout
                    case "57014" when !cancellationToken.IsCancellationRequested: // the server's statement_timeout ended the wait
                        return null;
                }

                throw;
            }
            finally
            {
                connection.CommandTimeout = commandTimeout;
            }
        }
    }

    private static ContextCommand LockCommand(DbContext context, LockRequest request, bool transactionScoped, bool inTransaction, bool tryOnly)
    {
        var command = new ContextCommand(context, CommandSource.Unknown);
        if (inTransaction)
        {
            command.Append($"SAVEPOINT {Savepoint};\n");
        }

        var k = command.AddParameter(typeof(long), request.Key);
        var function = transactionScoped ? "pg_advisory_xact_lock" : "pg_advisory_lock";
        if (tryOnly)
        {
            command.Append(
                $"WITH l AS MATERIALIZED (SELECT pg_try_{function[3..]}({k}) AS got)\n"
                + $"SELECT l.got, CASE WHEN l.got THEN nextval('{Sequence}') END, pg_backend_pid() FROM l");
        }
        else
        {
            // 0 is "no limit" for lock_timeout: it also overrides a lock_timeout the role or database sets.
            var milliseconds = request.Timeout is { } wait ? Math.Max(1, (long)Math.Ceiling(wait.TotalMilliseconds)) : 0;
            var t = command.AddParameter(typeof(string), milliseconds.ToString(CultureInfo.InvariantCulture) + "ms");
            command.Append(
                "WITH o AS MATERIALIZED (SELECT current_setting('lock_timeout') AS old),\n"
                + $"s AS MATERIALIZED (SELECT o.old, set_config('lock_timeout', {t}, true) FROM o),\n"
                + $"l AS MATERIALIZED (SELECT s.old, {function}({k}) FROM s)\n"
                + $"SELECT true, nextval('{Sequence}'), pg_backend_pid(), set_config('lock_timeout', l.old, true) FROM l");
        }

        if (inTransaction)
        {
            command.Append($";\nRELEASE SAVEPOINT {Savepoint}");
        }

        return command;
    }

    private static async Task<(long Token, int BackendPid)?> ReadAsync(ContextCommand command, bool async, CancellationToken cancellationToken)
    {
        var reader = await command.ExecuteReaderAsync(async, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var data = reader.DbDataReader;
            while (data.FieldCount == 0 && (async ? await data.NextResultAsync(cancellationToken).ConfigureAwait(false) : data.NextResult()))
            {
            }

            if (!(async ? await data.ReadAsync(cancellationToken).ConfigureAwait(false) : data.Read()))
            {
                throw new InvalidOperationException("The named-lock statement returned no row.");
            }

            (long, int)? result = data.GetBoolean(0) ? (data.GetInt64(1), data.GetInt32(2)) : null;
            while (async ? await data.NextResultAsync(cancellationToken).ConfigureAwait(false) : data.NextResult())
            {
            }

            return result;
        }
    }

    /// <summary>
    ///     After a failed or cancelled acquisition: back to the savepoint (which ends the aborted statement's effects in the
    ///     application's transaction, a transaction-scoped lock included) and, for a session lock, an unlock in case the
    ///     lock was granted just before the cancellation or timeout arrived (an unlock of a lock not held only warns).
    /// </summary>
    private static async Task UndoAsync(DbContext context, long key, bool unlock, bool inTransaction, bool async)
    {
        try
        {
            var command = new ContextCommand(context, CommandSource.Unknown);
            if (inTransaction)
            {
                command.Append($"ROLLBACK TO SAVEPOINT {Savepoint};\nRELEASE SAVEPOINT {Savepoint}");
            }

            if (unlock)
            {
                var k = command.AddParameter(typeof(long), key);
                command.Append($"{(inTransaction ? ";\n" : "")}SELECT pg_advisory_unlock({k})");
            }

            if (inTransaction || unlock)
            {
                await command.ExecuteNonQueryAsync(async, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException)
        {
            // The connection is gone, and with it every lock it held.
        }
    }

    /// <summary>
    ///     Creates the token sequence the first time this process locks on a database (not per acquisition). Never inside
    ///     the application's transaction: an uncreated sequence there would make every other session's CREATE wait for that
    ///     transaction, and vanish with its rollback. So inside a transaction it is created on a short-lived clone of the
    ///     connection (a plain ADO.NET command, the one statement of this library that bypasses EF's pipeline), otherwise
    ///     through the pipeline on the context's connection.
    /// </summary>
    private static async Task EnsureSequenceAsync(DbContext context, bool async, CancellationToken cancellationToken)
    {
        var connection = context.Database.GetDbConnection();
        var database = connection.DataSource + "/" + connection.Database;
        if (SequenceReady.ContainsKey(database))
        {
            return;
        }

        const string create = $"CREATE SEQUENCE IF NOT EXISTS {Sequence}";
        try
        {
            if (context.Database.CurrentTransaction is null)
            {
                await new ContextCommand(context, CommandSource.Unknown).Append(create).ExecuteNonQueryAsync(async, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var clone = (DbConnection)((connection as ICloneable)
                    ?? throw new NotSupportedException($"'{connection.GetType().Name}' cannot be cloned to create the lock-token sequence.")).Clone();
                using (clone)
                using (var command = clone.CreateCommand())
                {
                    command.CommandText = create;
                    if (async)
                    {
                        await clone.OpenAsync(cancellationToken).ConfigureAwait(false);
                        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        clone.Open();
                        command.ExecuteNonQuery();
                    }
                }
            }
        }
        catch (DbException e) when (e.SqlState is "23505" or "42P07")
        {
            // Another process created it at the same moment.
        }

        SequenceReady[database] = true;
    }
}
