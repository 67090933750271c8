using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>How a row-lock scenario writes its locking query.</summary>
public enum LockQuery
{
    /// <summary><c>FromSql("SELECT ... FOR UPDATE")</c> on plain EF Core: what users write today.</summary>
    FromSql,

    /// <summary>
    ///     The same <c>FromSql</c> on a context with this library (<c>UseConcurrency().UseRowLocks()</c>), as
    ///     <see cref="ForUpdate" /> runs on: the difference to it is the operator's own cost, without the library's cost on
    ///     every query of such a context (its interceptors), which a FromSql query pays as well.
    /// </summary>
    FromSqlWithLibrary,

    /// <summary><c>ForUpdate()</c> from this library.</summary>
    ForUpdate,

    /// <summary><c>ForUpdate(timeout: 2 s)</c>: <c>lock_timeout</c> set and restored in the same command.</summary>
    ForUpdateTimeout,
}

/// <summary>
///     N locking queries by key (tracked) in one open transaction, repeated <see cref="Transactions" /> times per round on
///     a warmed context (one untimed query first), each transaction on fresh ids. Only the queries are timed (and their
///     allocations counted): BEGIN, ROLLBACK and clearing the tracker happen outside the stopwatch, so a ratio compares the
///     queries alone. <see cref="Scenario.TimedMilliseconds" /> is the mean per transaction of N queries. Asserts exactly one
///     command per query, also with a timeout.
/// </summary>
public sealed class LockByKeyScenario(string name, LockQuery query) : Scenario(name)
{
    /// <summary>Queries per round (<see cref="Transactions" /> = this / N); <c>--lock-queries</c> overrides it.</summary>
    public static int QueriesPerRound { get; set; } = 200;

    private BenchContext? _context;
    private BenchDatabase? _database;
    private int _rows;

    private int Transactions
        => Math.Max(1, QueriesPerRound / _rows);

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _database = database;
        _rows = rows;
        _context = new BenchContext(query == LockQuery.FromSql ? database.PlainEfCounted : database.RowLocks);
        await using (await _context.Database.BeginTransactionAsync())
        {
            await QueryAsync(BenchDatabase.SeedRows); // warm: the context's services, the connection, the query cache
        }

        _context.ChangeTracker.Clear();
    }

    public override async Task RunAsync()
    {
        var stopwatch = new System.Diagnostics.Stopwatch();
        long allocated = 0;
        var id = 0;
        for (var t = 0; t < Transactions; t++)
        {
            await using var transaction = await _context!.Database.BeginTransactionAsync();
            var commandsBefore = _database!.Commands.Commands;
            var bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
            stopwatch.Start();
            for (var q = 0; q < _rows; q++)
            {
                await QueryAsync((id++ % (BenchDatabase.SeedRows - 1)) + 1);
            }

            stopwatch.Stop();
            allocated += GC.GetTotalAllocatedBytes(precise: true) - bytesBefore;
            var commands = _database.Commands.Commands - commandsBefore;
            if (commands != _rows)
            {
                throw new InvalidOperationException($"{Name}: {commands} commands for {_rows} locking queries; expected one round trip per query.");
            }

            await transaction.RollbackAsync();
            _context.ChangeTracker.Clear();
        }

        TimedMilliseconds = stopwatch.Elapsed.TotalMilliseconds / Transactions;
        TimedAllocatedBytes = allocated / Transactions;
    }

    public override async Task CleanupAsync()
        => await _context!.DisposeAsync();

    private async Task QueryAsync(int id)
    {
        var row = query switch
        {
            LockQuery.FromSql or LockQuery.FromSqlWithLibrary => await _context!.Set<PlainRow>()
                .FromSql($"SELECT * FROM plain_rows WHERE \"Id\" = {id} FOR UPDATE")
                .SingleAsync(),
            LockQuery.ForUpdate => await _context!.Set<PlainRow>().Where(r => r.Id == id).ForUpdate().SingleAsync(),
            _ => await _context!.Set<PlainRow>().Where(r => r.Id == id).ForUpdate(timeout: TimeSpan.FromSeconds(2)).SingleAsync(),
        };
        if (row.Id != id)
        {
            throw new InvalidOperationException("The locking query returned the wrong row.");
        }
    }
}

/// <summary>The physical limit: the same <c>SELECT ... FOR UPDATE</c> by key sent by raw Npgsql, timed like <see cref="LockByKeyScenario" />.</summary>
public sealed class RawLockByKeyScenario(string name) : Scenario(name)
{
    private NpgsqlConnection? _connection;
    private int _rows;

    private int Transactions
        => Math.Max(1, LockByKeyScenario.QueriesPerRound / _rows);

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _rows = rows;
        _connection = database.OpenRawConnection();
        await _connection.OpenAsync();
        await using var transaction = await _connection.BeginTransactionAsync();
        await QueryAsync(transaction, BenchDatabase.SeedRows);
    }

    public override async Task RunAsync()
    {
        var stopwatch = new System.Diagnostics.Stopwatch();
        long allocated = 0;
        var id = 0;
        for (var t = 0; t < Transactions; t++)
        {
            await using var transaction = await _connection!.BeginTransactionAsync();
            var bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
            stopwatch.Start();
            for (var q = 0; q < _rows; q++)
            {
                await QueryAsync(transaction, (id++ % (BenchDatabase.SeedRows - 1)) + 1);
            }

            stopwatch.Stop();
            allocated += GC.GetTotalAllocatedBytes(precise: true) - bytesBefore;
            await transaction.RollbackAsync();
        }

        TimedMilliseconds = stopwatch.Elapsed.TotalMilliseconds / Transactions;
        TimedAllocatedBytes = allocated / Transactions;
    }

    public override async Task CleanupAsync()
        => await _connection!.DisposeAsync();

    private async Task QueryAsync(NpgsqlTransaction transaction, int id)
    {
        await using var command = new NpgsqlCommand(
            "SELECT \"Id\", \"A\", \"B\", \"C\", \"D\" FROM plain_rows WHERE \"Id\" = $1 FOR UPDATE",
            _connection,
            transaction)
        {
            Parameters = { new() { Value = id } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            throw new InvalidOperationException("The raw locking query returned no row.");
        }

        _ = new PlainRow { Id = reader.GetInt32(0), A = reader.GetString(1), B = reader.GetString(2), C = reader.GetInt32(3), D = reader.GetDateTime(4) };
    }
}

/// <summary>How a queue worker claims and completes its batch.</summary>
public enum QueueLoop
{
    /// <summary>Claim the jobs as tracked entities, set their status, one <c>SaveChanges</c> (EF's automatic savepoint on).</summary>
    TrackedSave,

    /// <summary>As <see cref="TrackedSave" />, with <c>Database.AutoSavepointsEnabled = false</c>.</summary>
    TrackedSaveNoSavepoint,

    /// <summary>Claim only the ids (<c>Select(j =&gt; j.Id)</c>, nothing tracked), complete them with one <c>ExecuteUpdate</c> by ids.</summary>
    ClaimIdsExecuteUpdate,

    /// <summary>As <see cref="ClaimIdsExecuteUpdate" />, the claim a compiled query (<c>EF.CompileAsyncQuery</c>), made once per table.</summary>
    CompiledClaimIdsExecuteUpdate,
}

/// <summary>
///     The SKIP LOCKED work queue: <see cref="Workers" /> workers, each on its own open connection, loop "begin; claim the
///     first <see cref="Batch" /> queued jobs FOR UPDATE SKIP LOCKED; mark them done; commit" until the queue is empty. N
///     is the number of jobs, refilled before every run. Cleanup checks that every job was done exactly once.
/// </summary>
public abstract class QueueScenario(string name, string table) : Scenario(name)
{
    public const int Workers = 8;

    /// <summary>
    ///     Keep each worker's context from round to round (<c>--queue-warm-contexts</c>), as a long-running worker would;
    ///     otherwise every round creates new contexts, whose first query and save (EF's per-context start-up) are then timed.
    /// </summary>
    public static bool KeepContexts { get; set; }

    /// <summary>Jobs claimed per transaction (10 unless <c>--queue-batch</c> says otherwise).</summary>
    public static int Batch { get; set; } = 10;

    private BenchDatabase? _database;
    private int _jobs;

    protected string Table { get; } = table;
    private int[] _claimed = new int[Workers];

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _database = database;
        _jobs = rows;
        _claimed = new int[Workers];
        database.Execute($"TRUNCATE {Table}");
        database.Execute($"INSERT INTO {Table} (\"Id\", \"Status\", \"Worker\") SELECT i, {Job.Queued}, 0 FROM generate_series(1, {rows}) i");
        database.Execute($"VACUUM ANALYZE {Table}");
        await OpenWorkersAsync(database);
    }

    public override async Task RunAsync()
        => await Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            int claimed;
            do
            {
                claimed = await ClaimAndCompleteAsync(w);
                _claimed[w] += claimed;
            }
            while (claimed > 0);
        })));

    public override async Task CleanupAsync()
    {
        await CloseWorkersAsync();
        await using var connection = new NpgsqlConnection(_database!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FILTER (WHERE \"Status\" = {Job.Done}), count(*) FROM {Table}", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (done, total) = (reader.GetInt64(0), reader.GetInt64(1));
        if (done != _jobs || total != _jobs || _claimed.Sum() != _jobs)
        {
            throw new InvalidOperationException($"{Name}: {_jobs} jobs, {done} done, {_claimed.Sum()} claims: a job was lost or done twice.");
        }
    }

    /// <summary>The server process of each worker's connection (for the profile's CPU accounting).</summary>
    public abstract Task<int[]> BackendPidsAsync();

    public abstract Task OpenWorkersAsync(BenchDatabase database);

    /// <summary>One transaction of worker <paramref name="worker" />: claims up to <see cref="Batch" /> jobs and completes them; returns how many.</summary>
    public abstract Task<int> ClaimAndCompleteAsync(int worker);

    public abstract Task CloseWorkersAsync();

    protected static async Task<int> BackendPidAsync(System.Data.Common.DbConnection connection)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT pg_backend_pid()";
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
///     The claim loop in EF Core: with this library's <c>ForUpdate(RowLockWait.SkipLocked)</c>, or with <c>FromSql</c> on
///     plain EF Core; in the loop shape <paramref name="loop" />.
/// </summary>
public sealed class EfQueueScenario<TJob>(string name, string table, bool library, QueueLoop loop) : QueueScenario(name, table)
    where TJob : Job
{
    private readonly BenchContext[] _contexts = new BenchContext[Workers];

    private string ClaimSql
        => $"SELECT * FROM {Table} WHERE \"Status\" = {Job.Queued} ORDER BY \"Id\" LIMIT {Batch} FOR UPDATE SKIP LOCKED";

    private Func<BenchContext, IAsyncEnumerable<int>>? _compiledClaim;

    /// <summary>The claim of ids as a compiled query: <c>ForUpdate(SkipLocked)</c> with the library, <c>FromSql</c> without.</summary>
    private IAsyncEnumerable<int> CompiledClaim(BenchContext context)
    {
        if (_compiledClaim is null)
        {
            var batch = Batch;
            var sql = ClaimSql;
            _compiledClaim = library
                ? EF.CompileAsyncQuery((BenchContext c) => c.Set<TJob>()
                    .Where(j => j.Status == Job.Queued)
                    .OrderBy(j => j.Id)
                    .ForUpdate(RowLockWait.SkipLocked)
                    .Take(batch)
                    .Select(j => j.Id))
                : EF.CompileAsyncQuery((BenchContext c) => c.Set<TJob>().FromSqlRaw(sql).Select(j => j.Id));
        }

        return _compiledClaim(context);
    }

    private static async Task<List<int>> ToListAsync(IAsyncEnumerable<int> source)
    {
        var list = new List<int>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }

    public override async Task OpenWorkersAsync(BenchDatabase database)
    {
        for (var w = 0; w < Workers; w++)
        {
            if (!KeepContexts || _contexts[w] is null)
            {
                _contexts[w] = new BenchContext(library ? database.RowLocks : database.PlainEfCounted);
                _contexts[w].Database.AutoSavepointsEnabled = loop != QueueLoop.TrackedSaveNoSavepoint;
            }

            await _contexts[w].Database.OpenConnectionAsync();
        }
    }

    public override async Task<int[]> BackendPidsAsync()
    {
        var pids = new int[Workers];
        for (var w = 0; w < Workers; w++)
        {
            pids[w] = await BackendPidAsync(_contexts[w].Database.GetDbConnection());
        }

        return pids;
    }

    public override async Task<int> ClaimAndCompleteAsync(int worker)
    {
        var context = _contexts[worker];
        await using var transaction = await context.Database.BeginTransactionAsync();
        int count;
        if (loop is QueueLoop.ClaimIdsExecuteUpdate or QueueLoop.CompiledClaimIdsExecuteUpdate)
        {
            var ids = loop == QueueLoop.CompiledClaimIdsExecuteUpdate
                ? await ToListAsync(CompiledClaim(context))
                : library
                ? await context.Set<TJob>()
                    .Where(j => j.Status == Job.Queued)
                    .OrderBy(j => j.Id)
                    .ForUpdate(RowLockWait.SkipLocked)
                    .Take(Batch)
                    .Select(j => j.Id)
                    .ToListAsync()
                : await context.Set<TJob>()
                    .FromSqlRaw(ClaimSql)
                    .Select(j => j.Id)
                    .ToListAsync();
            if (ids.Count > 0)
            {
                var by = worker + 1;
                await context.Set<TJob>()
                    .Where(j => ids.Contains(j.Id))
                    .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, Job.Done).SetProperty(j => j.Worker, by));
            }

            count = ids.Count;
        }
        else
        {
            context.ChangeTracker.Clear();
            var jobs = library
                ? await context.Set<TJob>()
                    .Where(j => j.Status == Job.Queued)
                    .OrderBy(j => j.Id)
                    .ForUpdate(RowLockWait.SkipLocked)
                    .Take(Batch)
                    .ToListAsync()
                : await context.Set<TJob>()
                    .FromSqlRaw(ClaimSql)
                    .ToListAsync();
            foreach (var job in jobs)
            {
                job.Status = Job.Done;
                job.Worker = worker + 1;
            }

            await context.SaveChangesAsync();
            count = jobs.Count;
        }

        await transaction.CommitAsync();
        return count;
    }

    public override async Task CloseWorkersAsync()
    {
        foreach (var context in _contexts)
        {
            if (KeepContexts)
            {
                await context.Database.CloseConnectionAsync();
            }
            else
            {
                await context.DisposeAsync();
            }
        }
    }
}

/// <summary>
///     The physical limit: the same claim loop in raw Npgsql. <paramref name="byIds" /> false: the SELECT, then one UPDATE
///     per job in one <c>NpgsqlBatch</c> (what EF's SaveChanges sends); true: the SELECT of the ids, then one
///     <c>UPDATE ... WHERE "Id" = ANY($3)</c> (what ExecuteUpdate by ids sends).
/// </summary>
public sealed class RawQueueScenario(string name, string table, bool byIds) : QueueScenario(name, table)
{
    private readonly NpgsqlConnection[] _connections = new NpgsqlConnection[Workers];

    public override async Task OpenWorkersAsync(BenchDatabase database)
    {
        for (var w = 0; w < Workers; w++)
        {
            _connections[w] = database.OpenRawConnection();
            await _connections[w].OpenAsync();
        }
    }

    public override async Task<int[]> BackendPidsAsync()
    {
        var pids = new int[Workers];
        for (var w = 0; w < Workers; w++)
        {
            pids[w] = await BackendPidAsync(_connections[w]);
        }

        return pids;
    }

    public override async Task<int> ClaimAndCompleteAsync(int worker)
    {
        var connection = _connections[worker];
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = new List<int>(Batch);
        await using (var claim = new NpgsqlCommand(
            byIds
                ? $"SELECT \"Id\" FROM {Table} WHERE \"Status\" = $1 ORDER BY \"Id\" LIMIT $2 FOR UPDATE SKIP LOCKED"
                : $"SELECT \"Id\", \"Status\", \"Worker\" FROM {Table} WHERE \"Status\" = $1 ORDER BY \"Id\" LIMIT $2 FOR UPDATE SKIP LOCKED",
            connection,
            transaction)
        {
            Parameters = { new() { Value = Job.Queued }, new() { Value = Batch } },
        })
        await using (var reader = await claim.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt32(0));
            }
        }

        if (ids.Count > 0 && byIds)
        {
            await using var update = new NpgsqlCommand($"UPDATE {Table} SET \"Status\" = $1, \"Worker\" = $2 WHERE \"Id\" = ANY($3)", connection, transaction)
            {
                Parameters = { new() { Value = Job.Done }, new() { Value = worker + 1 }, new() { Value = ids.ToArray() } },
            };
            await update.ExecuteNonQueryAsync();
        }
        else if (ids.Count > 0)
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var id in ids)
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand($"UPDATE {Table} SET \"Status\" = $1, \"Worker\" = $2 WHERE \"Id\" = $3")
                {
                    Parameters = { new() { Value = Job.Done }, new() { Value = worker + 1 }, new() { Value = id } },
                });
            }

            await batch.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        return ids.Count;
    }

    public override async Task CloseWorkersAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }
}

/// <summary>The row-lock groups; the first of a group is its baseline.</summary>
public static class RowLockScenarios
{
    public const string FromSqlVariant = "FromSql(\"... FOR UPDATE\"), plain EF (baseline)";
    public const string FromSqlWithLibraryVariant = "FromSql(\"... FOR UPDATE\"), UseConcurrency().UseRowLocks()";
    public const string RawQueueVariant = "raw Npgsql: claim, batch of UPDATEs (baseline)";
    public const string RawQueueByIdsVariant = "raw Npgsql: claim ids, one UPDATE by ids";
    public const string FromSqlQueueVariant = "FromSql, tracked, SaveChanges (plain EF)";
    public const string FromSqlQueueByIdsVariant = "FromSql ids, ExecuteUpdate by ids (plain EF)";
    public const string FromSqlCompiledQueueByIdsVariant = "FromSql ids as a compiled query, ExecuteUpdate by ids (plain EF)";

    public static Scenario[] LockByKey()
        =>
        [
            new LockByKeyScenario(FromSqlVariant, LockQuery.FromSql),
            new LockByKeyScenario(FromSqlWithLibraryVariant, LockQuery.FromSqlWithLibrary),
            new LockByKeyScenario("ForUpdate()", LockQuery.ForUpdate) { References = [FromSqlWithLibraryVariant] },
            new LockByKeyScenario("ForUpdate(timeout: 2 s)", LockQuery.ForUpdateTimeout),
            new RawLockByKeyScenario("raw Npgsql SELECT ... FOR UPDATE"),
        ];

    public static QueueScenario[] Queue()
        =>
        [
            new RawQueueScenario(RawQueueVariant, "jobs_raw", byIds: false),
            new RawQueueScenario(RawQueueByIdsVariant, "jobs_raw_bulk", byIds: true),
            new EfQueueScenario<LockedJob>("ForUpdate(SkipLocked), tracked, SaveChanges", "jobs_locked", library: true, QueueLoop.TrackedSave)
            {
                References = [RawQueueVariant, FromSqlQueueVariant],
            },
            new EfQueueScenario<LockedNoSavepointJob>("ForUpdate(SkipLocked), tracked, SaveChanges, no auto-savepoint", "jobs_locked_nosp", library: true, QueueLoop.TrackedSaveNoSavepoint)
            {
                References = [RawQueueVariant, FromSqlQueueVariant],
            },
            new EfQueueScenario<FromSqlJob>(FromSqlQueueVariant, "jobs_fromsql", library: false, QueueLoop.TrackedSave),
            new EfQueueScenario<LockedBulkJob>("ForUpdate(SkipLocked) ids, ExecuteUpdate by ids", "jobs_locked_bulk", library: true, QueueLoop.ClaimIdsExecuteUpdate)
            {
                References = [RawQueueByIdsVariant, FromSqlQueueByIdsVariant],
            },
            new EfQueueScenario<FromSqlBulkJob>(FromSqlQueueByIdsVariant, "jobs_fromsql_bulk", library: false, QueueLoop.ClaimIdsExecuteUpdate)
            {
                References = [RawQueueByIdsVariant],
            },
            new EfQueueScenario<LockedCompiledJob>("ForUpdate(SkipLocked) ids as a compiled query, ExecuteUpdate by ids", "jobs_locked_compiled", library: true, QueueLoop.CompiledClaimIdsExecuteUpdate)
            {
                References = [RawQueueByIdsVariant, FromSqlCompiledQueueByIdsVariant],
            },
            new EfQueueScenario<FromSqlCompiledJob>(FromSqlCompiledQueueByIdsVariant, "jobs_fromsql_compiled", library: false, QueueLoop.CompiledClaimIdsExecuteUpdate)
            {
                References = [RawQueueByIdsVariant],
            },
        ];
}
