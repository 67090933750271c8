// Concurrency benchmarks, against a real PostgreSQL from the tests' fixture (or CONCURRENCY_TEST_POSTGRES).
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --filter '*'   BenchmarkDotNet, then the interleaved ratios
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --ratios       only the interleaved ratios and contention
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --quick        every scenario once (CI smoke test)
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --ratios --row-locks   only the row-lock groups and the hot row
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --ratios --named-locks  only the named-lock groups
//   add --lock-by-key-only to a --row-locks run to skip the queue group and the hot row
//   add --bdn-only to a BenchmarkDotNet run to skip the interleaved report afterwards
//   --rounds N, --lock-queries N (locking queries per round, 200), --queue-jobs N (1000), --queue-batch N (jobs per claim, 10)
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --queue-profile   round trips and CPU per job of each queue loop
//   dotnet run -c Release --project benchmarks/Concurrency.Benchmarks -- --lock-profile    client CPU per locking query by key, decomposed (LOCK_PROFILE_ONLY=2,5 runs only those variants, for perf)
using BenchmarkDotNet.Running;
using Concurrency.Benchmarks;
using Concurrency.TestSupport;

// Before the first Npgsql connection: counts Npgsql's round trips for the named-lock report.
NamedLockBench.InstallRoundTripCounter();

// Start (or reach) PostgreSQL once; BenchmarkDotNet's child processes inherit the connection string.
Environment.SetEnvironmentVariable(PostgresServer.EnvironmentVariable, PostgresServer.ConnectionString);
Console.WriteLine($"PostgreSQL: {PostgresServer.Description}.");
try
{
    var quick = args.Contains("--quick");
    var ratiosOnly = args.Contains("--ratios") || args.Contains("--queue-profile") || args.Contains("--lock-profile"); // no BenchmarkDotNet run
    if (!quick && !ratiosOnly)
    {
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Where(a => a != "--bdn-only").ToArray());
        if (args.Contains("--bdn-only"))
        {
            return 0;
        }
    }

    QueueScenario.Batch = ReadInt(args, "--queue-batch", QueueScenario.Batch);
    LockByKeyScenario.QueriesPerRound = quick ? 10 : ReadInt(args, "--lock-queries", LockByKeyScenario.QueriesPerRound);
    var queueJobs = quick ? 100 : ReadInt(args, "--queue-jobs", 1000);
    QueueScenario.KeepContexts = args.Contains("--queue-warm-contexts");
    if (args.Contains("--queue-profile"))
    {
        using var profiled = new BenchDatabase();
        Console.WriteLine(await QueueProfile.RunAsync(profiled, queueJobs, ReadInt(args, "--rounds", 5)));
        return 0;
    }

    if (args.Contains("--lock-profile"))
    {
        using var profiled = new BenchDatabase();
        Console.WriteLine(await LockProfile.RunAsync(profiled, ReadInt(args, "--rounds", 21), LockByKeyScenario.QueriesPerRound));
        return 0;
    }

    int[] sizes = quick ? [1, 10] : [1, 10, 100, 1000];
    var rounds = quick ? 1 : ReadInt(args, "--rounds", 21);
    using var database = new BenchDatabase();
    if (args.Contains("--named-locks") || quick)
    {
        Console.WriteLine();
        Console.WriteLine("Named locks (PostgreSQL):");
        Console.WriteLine(await NamedLockBench.RunAsync(
            database,
            rounds: quick ? 1 : ReadInt(args, "--rounds", 21),
            operations: quick ? 20 : 500,
            workers: 8,
            handovers: quick ? 5 : 100));
        if (!quick)
        {
            return 0;
        }
    }

    if (!args.Contains("--row-locks"))
    {
        var report = await InterleavedRunner.RunAsync(
            database,
            [
                ("save", Scenarios.Save, sizes),
                ("delete", Scenarios.Delete, sizes),
                ("conflict", Scenarios.Conflict, [1]),
                ("ExecuteUpdate", Scenarios.ExecuteUpdate, sizes),
            ],
            rounds,
            warmup: !quick);
        Console.WriteLine();
        Console.WriteLine($"Interleaved rounds: {rounds} per row (plus one warm-up round), order rotated every round.");
        Console.WriteLine(report);
        Console.WriteLine(await Contention.RunAsync(database, workers: 8, incrementsPerWorker: quick ? 10 : 200));
    }

    // Row locks: the same interleaved method; --row-locks runs only these (the versioning groups above are skipped).
    var rowLockRounds = quick ? 1 : ReadInt(args, "--row-lock-rounds", rounds);
    if (args.Contains("--queue-only"))
    {
        Console.WriteLine($"SKIP LOCKED queue only, interleaved rounds: {rowLockRounds} (plus one warm-up round), order rotated every round; contexts {(args.Contains("--queue-warm-contexts") ? "kept from round to round" : "new every round")}.");
        Console.WriteLine(await InterleavedRunner.RunAsync(database, [("SKIP LOCKED queue, 8 workers", RowLockScenarios.Queue, [queueJobs])], rowLockRounds, warmup: true));
        return 0;
    }

    if (args.Contains("--lock-by-key-only"))
    {
        Console.WriteLine($"Lock by key only, interleaved rounds: {rowLockRounds} per row (plus one warm-up round), order rotated every round.");
        Console.WriteLine(await InterleavedRunner.RunAsync(database, [("lock by key", RowLockScenarios.LockByKey, quick ? [1] : [1, 10])], rowLockRounds, warmup: !quick));
        return 0;
    }

    Console.WriteLine();
    Console.WriteLine($"Row locks, interleaved rounds: {rowLockRounds} per row (plus one warm-up round), order rotated every round.");
    Console.WriteLine(await InterleavedRunner.RunAsync(
        database,
        [
            ("lock by key", RowLockScenarios.LockByKey, quick ? [1] : [1, 10]),
            ("SKIP LOCKED queue, 8 workers", RowLockScenarios.Queue, [queueJobs]),
        ],
        rowLockRounds,
        warmup: !quick));
    Console.WriteLine($"Hot row: {(quick ? 5 : 50)} increments per worker, {(quick ? 1 : Math.Max(rowLockRounds / 2, 2))} rounds per worker count, order alternated.");
    Console.WriteLine(await HotRow.RunAsync(database, quick ? [1, 4] : [1, 4, 16], incrementsPerWorker: quick ? 5 : 50, rounds: quick ? 1 : Math.Max(rowLockRounds / 2, 2)));
    return 0;
}
finally
{
    PostgresServer.StopIfStarted();
}

static int ReadInt(string[] args, string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], out var value) ? value : fallback;
}
