using BenchmarkDotNet.Attributes;
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>
///     BenchmarkDotNet view of the same scenarios, for allocations and per-operation detail. One invocation per
///     iteration, with loading and modifying done in the iteration setup, so only the named operation is timed. Ratios
///     between variants come from the interleaved report (see docs/benchmarks.md), not from these sequential runs.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1)]
[IterationCount(15)]
[WarmupCount(3)]
public abstract class ScenarioBenchmarks
{
    private BenchDatabase? _database;
    private Scenario[] _scenarios = [];
    private int _round;

    protected abstract Scenario[] Create();

    protected virtual int Rows
        => 1;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _database = new BenchDatabase();
        _scenarios = Create();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
        => _database?.Dispose();

    protected void Prepare(int index)
        => _scenarios[index].PrepareAsync(_database!, Rows, ++_round).GetAwaiter().GetResult();

    protected Task Run(int index)
        => _scenarios[index].RunAsync();

    protected void Cleanup(int index)
        => _scenarios[index].CleanupAsync().GetAwaiter().GetResult();
}

public class SaveChangesBenchmarks : ScenarioBenchmarks
{
    [Params(1, 10, 100, 1000)]
    public int N { get; set; }

    protected override int Rows
        => N;

    protected override Scenario[] Create()
        => Scenarios.Save();

    [IterationSetup(Target = nameof(Baseline))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(EfToken))] public void S1() => Prepare(1);
    [IterationSetup(Target = nameof(Xmin))] public void S2() => Prepare(2);
    [IterationSetup(Target = nameof(VersionField))] public void S3() => Prepare(3);
    [IterationSetup(Target = nameof(ConditionalWatched))] public void S4() => Prepare(4);
    [IterationSetup(Target = nameof(ConditionalUnwatched))] public void S5() => Prepare(5);
    [IterationSetup(Target = nameof(TriggerVersionField))] public void S6() => Prepare(6);
    [IterationSetup(Target = nameof(RawVersioned))] public void S7() => Prepare(7);
    [IterationSetup(Target = nameof(RawPlain))] public void S8() => Prepare(8);

    [IterationCleanup(Target = nameof(Baseline))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(EfToken))] public void C1() => Cleanup(1);
    [IterationCleanup(Target = nameof(Xmin))] public void C2() => Cleanup(2);
    [IterationCleanup(Target = nameof(VersionField))] public void C3() => Cleanup(3);
    [IterationCleanup(Target = nameof(ConditionalWatched))] public void C4() => Cleanup(4);
    [IterationCleanup(Target = nameof(ConditionalUnwatched))] public void C5() => Cleanup(5);
    [IterationCleanup(Target = nameof(TriggerVersionField))] public void C6() => Cleanup(6);
    [IterationCleanup(Target = nameof(RawVersioned))] public void C7() => Cleanup(7);
    [IterationCleanup(Target = nameof(RawPlain))] public void C8() => Cleanup(8);

    [Benchmark(Baseline = true)] public Task Baseline() => Run(0);
    [Benchmark] public Task EfToken() => Run(1);
    [Benchmark] public Task Xmin() => Run(2);
    [Benchmark] public Task VersionField() => Run(3);
    [Benchmark] public Task ConditionalWatched() => Run(4);
    [Benchmark] public Task ConditionalUnwatched() => Run(5);
    [Benchmark] public Task TriggerVersionField() => Run(6);
    [Benchmark] public Task RawVersioned() => Run(7);
    [Benchmark] public Task RawPlain() => Run(8);
}

public class DeleteBenchmarks : ScenarioBenchmarks
{
    [Params(1, 10, 100, 1000)]
    public int N { get; set; }

    protected override int Rows
        => N;

    protected override Scenario[] Create()
        => Scenarios.Delete();

    [IterationSetup(Target = nameof(DeletePlain))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(DeleteVersionField))] public void S1() => Prepare(1);
    [IterationCleanup(Target = nameof(DeletePlain))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(DeleteVersionField))] public void C1() => Cleanup(1);

    [Benchmark(Baseline = true)] public Task DeletePlain() => Run(0);
    [Benchmark] public Task DeleteVersionField() => Run(1);
}

public class ConflictBenchmarks : ScenarioBenchmarks
{
    protected override Scenario[] Create()
        => Scenarios.Conflict();

    [IterationSetup(Target = nameof(EfConcurrencyException))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(RecordModified))] public void S1() => Prepare(1);
    [IterationCleanup(Target = nameof(EfConcurrencyException))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(RecordModified))] public void C1() => Cleanup(1);

    [Benchmark(Baseline = true)] public Task EfConcurrencyException() => Run(0);
    [Benchmark] public Task RecordModified() => Run(1);
}

public class ExecuteUpdateBenchmarks : ScenarioBenchmarks
{
    [Params(1, 10, 100, 1000)]
    public int N { get; set; }

    protected override int Rows
        => N;

    protected override Scenario[] Create()
        => Scenarios.ExecuteUpdate();

    [IterationSetup(Target = nameof(Plain))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(Bumped))] public void S1() => Prepare(1);
    [IterationSetup(Target = nameof(NotBumped))] public void S2() => Prepare(2);
    [IterationCleanup(Target = nameof(Plain))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(Bumped))] public void C1() => Cleanup(1);
    [IterationCleanup(Target = nameof(NotBumped))] public void C2() => Cleanup(2);

    [Benchmark(Baseline = true)] public Task Plain() => Run(0);
    [Benchmark] public Task Bumped() => Run(1);
    [Benchmark] public Task NotBumped() => Run(2);
}

public class RowLockByKeyBenchmarks : ScenarioBenchmarks
{
    [Params(1, 10)]
    public int N { get; set; }

    protected override int Rows
        => N;

    protected override Scenario[] Create()
        => RowLockScenarios.LockByKey();

    [IterationSetup(Target = nameof(FromSqlForUpdate))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(ForUpdate))] public void S1() => Prepare(1);
    [IterationSetup(Target = nameof(ForUpdateTimeout))] public void S2() => Prepare(2);
    [IterationSetup(Target = nameof(RawForUpdate))] public void S3() => Prepare(3);
    [IterationCleanup(Target = nameof(FromSqlForUpdate))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(ForUpdate))] public void C1() => Cleanup(1);
    [IterationCleanup(Target = nameof(ForUpdateTimeout))] public void C2() => Cleanup(2);
    [IterationCleanup(Target = nameof(RawForUpdate))] public void C3() => Cleanup(3);

    [Benchmark(Baseline = true)] public Task FromSqlForUpdate() => Run(0);
    [Benchmark] public Task ForUpdate() => Run(1);
    [Benchmark] public Task ForUpdateTimeout() => Run(2);
    [Benchmark] public Task RawForUpdate() => Run(3);
}

public class SkipLockedQueueBenchmarks : ScenarioBenchmarks
{
    protected override int Rows
        => 1000;

    protected override Scenario[] Create()
        => RowLockScenarios.Queue();

    [IterationSetup(Target = nameof(RawClaimLoop))] public void S0() => Prepare(0);
    [IterationSetup(Target = nameof(RawClaimIdsUpdateByIds))] public void S1() => Prepare(1);
    [IterationSetup(Target = nameof(ForUpdateSkipLocked))] public void S2() => Prepare(2);
    [IterationSetup(Target = nameof(ForUpdateSkipLockedNoSavepoint))] public void S3() => Prepare(3);
    [IterationSetup(Target = nameof(FromSqlSkipLocked))] public void S4() => Prepare(4);
    [IterationSetup(Target = nameof(ForUpdateIdsExecuteUpdate))] public void S5() => Prepare(5);
    [IterationSetup(Target = nameof(FromSqlIdsExecuteUpdate))] public void S6() => Prepare(6);
    [IterationCleanup(Target = nameof(RawClaimLoop))] public void C0() => Cleanup(0);
    [IterationCleanup(Target = nameof(RawClaimIdsUpdateByIds))] public void C1() => Cleanup(1);
    [IterationCleanup(Target = nameof(ForUpdateSkipLocked))] public void C2() => Cleanup(2);
    [IterationCleanup(Target = nameof(ForUpdateSkipLockedNoSavepoint))] public void C3() => Cleanup(3);
    [IterationCleanup(Target = nameof(FromSqlSkipLocked))] public void C4() => Cleanup(4);
    [IterationCleanup(Target = nameof(ForUpdateIdsExecuteUpdate))] public void C5() => Cleanup(5);
    [IterationCleanup(Target = nameof(FromSqlIdsExecuteUpdate))] public void C6() => Cleanup(6);

    [Benchmark(Baseline = true)] public Task RawClaimLoop() => Run(0);
    [Benchmark] public Task RawClaimIdsUpdateByIds() => Run(1);
    [Benchmark] public Task ForUpdateSkipLocked() => Run(2);
    [Benchmark] public Task ForUpdateSkipLockedNoSavepoint() => Run(3);
    [Benchmark] public Task FromSqlSkipLocked() => Run(4);
    [Benchmark] public Task ForUpdateIdsExecuteUpdate() => Run(5);
    [Benchmark] public Task FromSqlIdsExecuteUpdate() => Run(6);
}

/// <summary>
///     One locking query by key per invocation, in a transaction held open for the whole run (BenchmarkDotNet picks the
///     invocation count): <c>FromSql("... FOR UPDATE")</c> on plain EF Core is the baseline, the raw Npgsql query the
///     physical limit. Ids cycle through the seeded rows; the tracker is cleared before each query (on both EF sides).
///     GlobalCleanup fails the run unless every EF query sent exactly one command.
/// </summary>
[MemoryDiagnoser]
[WarmupCount(5)]
[IterationCount(25)]
public class ForUpdateByKeyBenchmarks
{
    private BenchDatabase? _database;
    private BenchContext? _plain;
    private BenchContext? _locks;
    private NpgsqlConnection? _raw;
    private NpgsqlTransaction? _rawTransaction;
    private int _id;
    private int _efQueries;

    [GlobalSetup]
    public void GlobalSetup()
    {
        _database = new BenchDatabase();
        _plain = new BenchContext(_database.PlainEfCounted);
        _plain.Database.BeginTransaction();
        _locks = new BenchContext(_database.RowLocks);
        _locks.Database.BeginTransaction();
        _raw = _database.OpenRawConnection();
        _raw.Open();
        _rawTransaction = _raw.BeginTransaction();
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        var commands = _database!.Commands.Commands;
        _plain!.Dispose();
        _locks!.Dispose();
        _rawTransaction!.Dispose();
        _raw!.Dispose();
        _database.Dispose();
        if (commands != _efQueries)
        {
            throw new InvalidOperationException($"{commands} commands for {_efQueries} locking queries; expected exactly one per query.");
        }
    }

    [Benchmark(Baseline = true)]
    public async Task<PlainRow> FromSqlForUpdate()
    {
        var id = Next();
        _plain!.ChangeTracker.Clear();
        _efQueries++;
        return await _plain.Set<PlainRow>().FromSql($"SELECT * FROM plain_rows WHERE \"Id\" = {id} FOR UPDATE").SingleAsync();
    }

    [Benchmark]
    public async Task<PlainRow> ForUpdate()
    {
        var id = Next();
        _locks!.ChangeTracker.Clear();
        _efQueries++;
        return await _locks.Set<PlainRow>().Where(r => r.Id == id).ForUpdate().SingleAsync();
    }

    [Benchmark]
    public async Task<PlainRow> ForUpdateTimeout()
    {
        var id = Next();
        _locks!.ChangeTracker.Clear();
        _efQueries++;
        return await _locks.Set<PlainRow>().Where(r => r.Id == id).ForUpdate(timeout: TimeSpan.FromSeconds(2)).SingleAsync();
    }

    [Benchmark]
    public async Task<PlainRow> RawForUpdate()
    {
        var id = Next();
        await using var command = new NpgsqlCommand("SELECT \"Id\", \"A\", \"B\", \"C\", \"D\" FROM plain_rows WHERE \"Id\" = $1 FOR UPDATE", _raw, _rawTransaction)
        {
            Parameters = { new() { Value = id } },
        };
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new PlainRow { Id = reader.GetInt32(0), A = reader.GetString(1), B = reader.GetString(2), C = reader.GetInt32(3), D = reader.GetDateTime(4) };
    }

    private int Next()
        => _id = (_id % BenchDatabase.SeedRows) + 1;
}
