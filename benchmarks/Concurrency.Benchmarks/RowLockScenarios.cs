using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>How a row-lock scenario writes its locking query.</summary>
public enum LockQuery
{
    /// <summary><c>FromSql("SELECT ... FOR UPDATE")</c> on plain EF Core: what users write today.</summary>
    FromSql,

    /// <summary><c>ForUpdate()</c> from this library.</summary>
    ForUpdate,

    /// <summary><c>ForUpdate(timeout: 2 s)</c>: <c>lock_timeout</c> set and restored in the same command.</summary>
    ForUpdateTimeout,
}

/// <summary>
///     N locking queries by key (ids 1..N of plain_rows, tracked) inside one open transaction; the transaction is begun
///     before and rolled back after the timed call. Asserts one command per query.
/// </summary>
public sealed class LockByKeyScenario(string name, LockQuery query) : Scenario(name)
{
    private BenchContext? _context;
    private BenchDatabase? _database;
    private int _rows;
    private int _commandsBefore;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _database = database;
        _rows = rows;
        _context = new BenchContext(query == LockQuery.FromSql ? database.PlainEfCounted : database.RowLocks);
        await _context.Database.BeginTransactionAsync();
        _commandsBefore = database.Commands.Commands;
    }

    public override async Task RunAsync()
    {
        for (var id = 1; id <= _rows; id++)
        {
            var row = query switch
            {
                LockQuery.FromSql => await _context!.Set<PlainRow>()
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

    public override async Task CleanupAsync()
    {
        var commands = _database!.Commands.Commands - _commandsBefore;
        await _context!.Database.RollbackTransactionAsync();
        await _context.DisposeAsync();
        if (commands != _rows)
        {
            throw new InvalidOperationException($"{Name}: {commands} commands for {_rows} locking queries; expected one round trip per query.");
        }
    }
}

/// <summary>The physical limit: the same <c>SELECT ... FOR UPDATE</c> by key, sent by raw Npgsql in one open transaction.</summary>
public sealed class RawLockByKeyScenario(string name) : Scenario(name)
{
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private int _rows;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _rows = rows;
        _connection = new NpgsqlConnection(database.ConnectionString);
        await _connection.OpenAsync();
        _transaction = await _connection.BeginTransactionAsync();
    }

    public override async Task RunAsync()
    {
        for (var id = 1; id <= _rows; id++)
        {
            await using var command = new NpgsqlCommand(
                "SELECT \"Id\", \"A\", \"B\", \"C\", \"D\" FROM plain_rows WHERE \"Id\" = $1 FOR UPDATE",
                _connection,
                _transaction)
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

    public override async Task CleanupAsync()
    {
        await _transaction!.RollbackAsync();
        await _connection!.DisposeAsync();
    }
}

/// <summary>
///     The SKIP LOCKED work queue: <see cref="Workers" /> workers, each on its own open connection, loop "begin; claim the
///     first 10 queued jobs FOR UPDATE SKIP LOCKED; mark them done; commit" until the queue is empty. N is the number of
///     jobs, refilled before every run. Cleanup checks that every job was done exactly once.
/// </summary>
public abstract class QueueScenario(string name, string table) : Scenario(name)
{
    public const int Workers = 8;
    public const int Batch = 10;

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

    protected abstract Task OpenWorkersAsync(BenchDatabase database);

    /// <summary>One transaction of worker <paramref name="worker" />: claims up to <see cref="Batch" /> jobs and completes them; returns how many.</summary>
    protected abstract Task<int> ClaimAndCompleteAsync(int worker);

    protected abstract Task CloseWorkersAsync();
}

/// <summary>The claim loop in EF Core: with this library's <c>ForUpdate(RowLockWait.SkipLocked)</c>, or with <c>FromSql</c> on plain EF Core.</summary>
public sealed class EfQueueScenario<TJob>(string name, string table, bool library) : QueueScenario(name, table)
    where TJob : Job
{
    private readonly string _claimSql = $"SELECT * FROM {table} WHERE \"Status\" = {Job.Queued} ORDER BY \"Id\" LIMIT {Batch} FOR UPDATE SKIP LOCKED";
    private readonly BenchContext[] _contexts = new BenchContext[Workers];

    protected override async Task OpenWorkersAsync(BenchDatabase database)
    {
        for (var w = 0; w < Workers; w++)
        {
            _contexts[w] = new BenchContext(library ? database.RowLocks : database.PlainEfCounted);
            await _contexts[w].Database.OpenConnectionAsync();
        }
    }

    protected override async Task<int> ClaimAndCompleteAsync(int worker)
    {
        var context = _contexts[worker];
        context.ChangeTracker.Clear();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var jobs = library
            ? await context.Set<TJob>()
                .Where(j => j.Status == Job.Queued)
                .OrderBy(j => j.Id)
                .ForUpdate(RowLockWait.SkipLocked)
                .Take(Batch)
                .ToListAsync()
            : await context.Set<TJob>()
                .FromSqlRaw(_claimSql)
                .ToListAsync();
        foreach (var job in jobs)
        {
            job.Status = Job.Done;
            job.Worker = worker + 1;
        }

        await context.SaveChangesAsync();
        await transaction.CommitAsync();
        return jobs.Count;
    }

    protected override async Task CloseWorkersAsync()
    {
        foreach (var context in _contexts)
        {
            await context.DisposeAsync();
        }
    }
}

/// <summary>The physical limit: the same claim loop in raw Npgsql (the SELECT, then the UPDATEs in one batch, as EF sends them).</summary>
public sealed class RawQueueScenario(string name, string table) : QueueScenario(name, table)
{
    private readonly NpgsqlConnection[] _connections = new NpgsqlConnection[Workers];

    protected override async Task OpenWorkersAsync(BenchDatabase database)
    {
        for (var w = 0; w < Workers; w++)
        {
            _connections[w] = new NpgsqlConnection(database.ConnectionString);
            await _connections[w].OpenAsync();
        }
    }

    protected override async Task<int> ClaimAndCompleteAsync(int worker)
    {
        var connection = _connections[worker];
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = new List<int>(Batch);
        await using (var claim = new NpgsqlCommand(
            $"SELECT \"Id\", \"Status\", \"Worker\" FROM {Table} WHERE \"Status\" = $1 ORDER BY \"Id\" LIMIT $2 FOR UPDATE SKIP LOCKED",
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

        if (ids.Count > 0)
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

    protected override async Task CloseWorkersAsync()
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
    public const string RawQueueVariant = "raw Npgsql claim loop (baseline)";
    public const string FromSqlQueueVariant = "FromSql(\"... FOR UPDATE SKIP LOCKED\"), plain EF";

    public static Scenario[] LockByKey()
        =>
        [
            new LockByKeyScenario(FromSqlVariant, LockQuery.FromSql),
            new LockByKeyScenario("ForUpdate()", LockQuery.ForUpdate),
            new LockByKeyScenario("ForUpdate(timeout: 2 s)", LockQuery.ForUpdateTimeout),
            new RawLockByKeyScenario("raw Npgsql SELECT ... FOR UPDATE"),
        ];

    public static Scenario[] Queue()
        =>
        [
            new RawQueueScenario(RawQueueVariant, "jobs_raw"),
            new EfQueueScenario<LockedJob>("ForUpdate(RowLockWait.SkipLocked).Take(10)", "jobs_locked", library: true) { Reference = FromSqlQueueVariant },
            new EfQueueScenario<FromSqlJob>(FromSqlQueueVariant, "jobs_fromsql", library: false),
        ];
}
