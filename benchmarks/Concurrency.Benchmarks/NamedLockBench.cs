using System.Diagnostics;
using System.Globalization;
using System.Text;
using Medallion.Threading.Postgres;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>
///     Named locks on PostgreSQL (issue 12's measured goals), three ways in every round, in a rotating order:
///     raw Npgsql <c>pg_advisory_lock</c> / <c>pg_advisory_unlock</c> on a pooled connection (the baseline and physical
///     limit), this library's <c>AcquireLockAsync</c> + <c>DisposeAsync</c>, and DistributedLock.Postgres used directly.
///     Reports the per-round time ratio to the baseline (median, p25-p75) and the round trips per acquire + release,
///     counted from Npgsql's own command log, so every client is counted the same way.
/// </summary>
public static class NamedLockBench
{
    private static readonly RoundTripCounter RoundTrips = new();

    /// <summary>Hooks Npgsql's logging; must run before the first Npgsql connection of the process.</summary>
    public static void InstallRoundTripCounter()
        => NpgsqlLoggingConfiguration.InitializeLogging(LoggerFactory.Create(b => b.AddProvider(RoundTrips).SetMinimumLevel(LogLevel.Debug)));

    private enum Variant
    {
        Raw,
        Library,
        DistributedLock,
    }

    private static readonly Variant[] Variants = [Variant.Raw, Variant.Library, Variant.DistributedLock];

    private static string Label(Variant variant)
        => variant switch
        {
            Variant.Raw => "raw Npgsql pg_advisory_lock / pg_advisory_unlock (baseline)",
            Variant.Library => "context.Database.AcquireLockAsync + DisposeAsync (this library)",
            _ => "DistributedLock.Postgres 1.3.1 AcquireAsync + DisposeAsync",
        };

    public static async Task<string> RunAsync(BenchDatabase database, int rounds, int operations, int workers, int handovers)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Uncontended acquire + release, {operations} per round, {rounds} interleaved rounds (plus one warm-up):");
        report.AppendLine();
        report.AppendLine("| variant | median ratio vs baseline | p25-p75 | median per acquire + release | round trips per acquire + release |");
        report.AppendLine("|---|---:|---:|---:|---:|");
        await Measure(report, rounds, variant => Uncontended(database, variant, operations), operations, perOperation: true);

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Handover: {workers} workers passing one lock back and forth, {handovers} acquisitions per worker per round, {rounds} interleaved rounds (ratio of acquisitions/s):");
        report.AppendLine();
        report.AppendLine("| variant | median ratio of acquisitions/s vs baseline | p25-p75 | median acquisitions/s | overlaps seen |");
        report.AppendLine("|---|---:|---:|---:|---:|");
        await Measure(report, rounds, variant => Handover(database, variant, workers, handovers), workers * handovers, perOperation: false);
        return report.ToString();
    }

    private static async Task Measure(StringBuilder report, int rounds, Func<Variant, Task<(double Ms, int Overlaps)>> run, int operations, bool perOperation)
    {
        var times = Variants.ToDictionary(v => v, _ => new List<double>());
        var trips = Variants.ToDictionary(v => v, _ => 0L);
        var overlaps = Variants.ToDictionary(v => v, _ => 0);
        for (var r = -1; r < rounds; r++)
        {
            for (var k = 0; k < Variants.Length; k++)
            {
                var variant = Variants[(k + Math.Max(r, 0)) % Variants.Length];
                GC.Collect();
                var tripsBefore = RoundTrips.Count;
                var (ms, overlap) = await run(variant);
                if (r >= 0)
                {
                    times[variant].Add(ms);
                    trips[variant] += RoundTrips.Count - tripsBefore;
                    overlaps[variant] += overlap;
                }
            }
        }

        foreach (var variant in Variants)
        {
            var ratios = times[variant].Zip(times[Variant.Raw], (t, b) => perOperation ? t / b : b / t).Order().ToArray();
            var median = InterleavedRunner.Percentile(times[variant].Order().ToArray(), 0.5);
            var spread = variant == Variant.Raw ? "" : string.Create(CultureInfo.InvariantCulture, $"{InterleavedRunner.Percentile(ratios, 0.25):0.00}-{InterleavedRunner.Percentile(ratios, 0.75):0.00}");
            var ratio = variant == Variant.Raw ? "1.00 (baseline)" : string.Create(CultureInfo.InvariantCulture, $"{InterleavedRunner.Percentile(ratios, 0.5):0.00}x");
            report.AppendLine(perOperation
                ? string.Create(CultureInfo.InvariantCulture, $"| {Label(variant)} | {ratio} | {spread} | {median * 1000 / operations:0.0} µs | {(double)trips[variant] / (rounds * operations):0.00} |")
                : string.Create(CultureInfo.InvariantCulture, $"| {Label(variant)} | {ratio} | {spread} | {operations / (median / 1000):0} | {overlaps[variant]} |"));
        }
    }

    private static async Task<(double Ms, int Overlaps)> Uncontended(BenchDatabase database, Variant variant, int operations)
    {
        const string name = "bench:uncontended";
        var key = NameKey(name);
        var stopwatch = new Stopwatch();
        switch (variant)
        {
            case Variant.Raw:
                stopwatch.Start();
                for (var i = 0; i < operations; i++)
                {
                    await using var connection = new NpgsqlConnection(database.ConnectionString);
                    await connection.OpenAsync();
                    await Execute(connection, "SELECT pg_advisory_lock($1)", key);
                    await Execute(connection, "SELECT pg_advisory_unlock($1)", key);
                }

                break;
            case Variant.Library:
                await using (var context = new BenchContext(database.WithConcurrency))
                {
                    stopwatch.Start();
                    for (var i = 0; i < operations; i++)
                    {
                        await using var handle = await context.Database.AcquireLockAsync(name);
                    }
                }

                break;
            default:
                var distributed = new PostgresDistributedLock(new PostgresAdvisoryLockKey(name, allowHashing: true), database.ConnectionString);
                stopwatch.Start();
                for (var i = 0; i < operations; i++)
                {
                    await using var handle = await distributed.AcquireAsync();
                }

                break;
        }

        stopwatch.Stop();
        return (stopwatch.Elapsed.TotalMilliseconds, 0);
    }

    private static async Task<(double Ms, int Overlaps)> Handover(BenchDatabase database, Variant variant, int workers, int handovers)
    {
        const string name = "bench:handover";
        var key = NameKey(name);
        var inside = 0;
        var overlaps = 0;
        using var start = new Barrier(workers + 1);
        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            await using var context = new BenchContext(database.WithConcurrency);
            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            var distributed = new PostgresDistributedLock(new PostgresAdvisoryLockKey(name, allowHashing: true), database.ConnectionString);
            start.SignalAndWait();
            for (var i = 0; i < handovers; i++)
            {
                IAsyncDisposable? held = null;
                switch (variant)
                {
                    case Variant.Raw:
                        await Execute(connection, "SELECT pg_advisory_lock($1)", key);
                        break;
                    case Variant.Library:
                        held = await context.Database.AcquireLockAsync(name);
                        break;
                    default:
                        held = await distributed.AcquireAsync();
                        break;
                }

                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                Interlocked.Decrement(ref inside);
                if (held is null)
                {
                    await Execute(connection, "SELECT pg_advisory_unlock($1)", key);
                }
                else
                {
                    await held.DisposeAsync();
                }
            }
        })).ToArray();
        start.SignalAndWait();
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(tasks);
        stopwatch.Stop();
        return (stopwatch.Elapsed.TotalMilliseconds, overlaps);
    }

    /// <summary>The raw variant's key: any 64-bit number; the lock itself is what is measured, not the hashing.</summary>
    private static long NameKey(string name)
        => name.Aggregate(1125899906842597L, (hash, c) => (31 * hash) + c);

    private static async Task Execute(NpgsqlConnection connection, string sql, long key)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = key });
        await command.ExecuteScalarAsync();
    }

    /// <summary>Counts the commands and batches Npgsql completes: one per round trip (a batch or a multi-statement command is one).</summary>
    private sealed class RoundTripCounter : ILoggerProvider, ILogger
    {
        private long _count;

        public long Count
            => Interlocked.Read(ref _count);

        public ILogger CreateLogger(string categoryName)
            => categoryName == "Npgsql.Command" ? this : NullLogger.Instance;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
            => null;

        public bool IsEnabled(LogLevel logLevel)
            => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name is "CommandExecutionCompleted" or "BatchExecutionCompleted")
            {
                Interlocked.Increment(ref _count);
            }
        }

        public void Dispose()
        {
        }

        private sealed class NullLogger : ILogger
        {
            public static readonly NullLogger Instance = new();

            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull
                => null;

            public bool IsEnabled(LogLevel logLevel)
                => false;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
            }
        }
    }
}
