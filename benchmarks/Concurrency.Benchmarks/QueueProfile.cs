using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>
///     Where the SKIP LOCKED queue's time goes, per loop shape (<c>--queue-profile</c>): what one claim transaction sends
///     (Npgsql's own debug log of one batch: every command and every transaction message), and the CPU per job on each side
///     of the wire: this process (<see cref="Process.TotalProcessorTime" />) and the PostgreSQL server processes of the
///     workers' connections (<c>/proc/&lt;pid&gt;/stat</c>, when the server runs on this machine). Measured with one
///     worker (latency per batch) and with <see cref="QueueScenario.Workers" /> (throughput, CPU-bound on 2 cores).
/// </summary>
public static class QueueProfile
{
    public static async Task<string> RunAsync(BenchDatabase database, int jobs, int repeats)
    {
        var log = new CapturingLoggerFactory();
        var builder = new NpgsqlDataSourceBuilder(database.ConnectionString);
        builder.UseLoggerFactory(log);
        await using var dataSource = builder.Build();
        database.UseDataSource(dataSource);

        var report = new StringBuilder();
        var transcripts = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Batch {QueueScenario.Batch}; one worker: {jobs} jobs; {QueueScenario.Workers} workers: {jobs} jobs, {repeats} runs per variant (median of each column).");
        report.AppendLine("| variant | round trips per batch | EF commands per batch | 1 worker: ms per batch | 1 worker: client CPU µs/job | 1 worker: server CPU µs/job | 8 workers: jobs/s | 8 workers: client CPU µs/job | 8 workers: server CPU µs/job | 8 workers: CPU busy (of 2 cores) |");
        report.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var round = 0;
        foreach (var scenario in RowLockScenarios.Queue())
        {
            // One worker: warm up, then one logged batch, then the measured batches.
            var single = new List<(double Wall, double Client, double Server, double Jobs)>();
            int roundTrips = 0, efCommands = 0;
            for (var r = -1; r < repeats; r++)
            {
                database.Vacuum();
                await scenario.PrepareAsync(database, jobs, ++round);
                var pid = (await scenario.BackendPidsAsync())[0];
                for (var i = 0; i < 10; i++)
                {
                    await scenario.ClaimAndCompleteAsync(0);
                }

                if (r < 0)
                {
                    log.Start();
                    var commandsBefore = database.Commands.Commands;
                    await scenario.ClaimAndCompleteAsync(0);
                    efCommands = database.Commands.Commands - commandsBefore;
                    var lines = log.Stop();
                    roundTrips = lines.Count(l => l.RoundTrip);
                    transcripts.AppendLine(CultureInfo.InvariantCulture, $"{scenario.Name}: {roundTrips} round trips");
                    foreach (var line in lines)
                    {
                        transcripts.AppendLine(CultureInfo.InvariantCulture, $"    {(line.RoundTrip ? "->" : "  ")} [{line.Category}] {line.Message}");
                    }

                    transcripts.AppendLine();
                }

                var (wall, client, server) = (Stopwatch.StartNew(), Process.GetCurrentProcess().TotalProcessorTime, ServerCpu([pid]));
                var done = 0;
                int claimed;
                while ((claimed = await scenario.ClaimAndCompleteAsync(0)) > 0)
                {
                    done += claimed;
                }

                wall.Stop();
                var clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - client).TotalMilliseconds;
                var serverCpu = ServerCpu([pid]) - server;
                await scenario.CloseWorkersAsync();
                if (r >= 0)
                {
                    single.Add((wall.Elapsed.TotalMilliseconds / Math.Ceiling(done / (double)QueueScenario.Batch), clientCpu * 1000 / done, serverCpu * 1000 / done, done));
                }
            }

            // All workers, as in the interleaved group.
            var parallel = new List<(double JobsPerSecond, double Client, double Server, double Busy)>();
            for (var r = -1; r < repeats; r++)
            {
                database.Vacuum();
                await scenario.PrepareAsync(database, jobs, ++round);
                var pids = await scenario.BackendPidsAsync();
                var (wall, client, server) = (Stopwatch.StartNew(), Process.GetCurrentProcess().TotalProcessorTime, ServerCpu(pids));
                await scenario.RunAsync();
                wall.Stop();
                var clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - client).TotalMilliseconds;
                var serverCpu = ServerCpu(pids) - server;
                await scenario.CleanupAsync();
                if (r >= 0)
                {
                    var ms = wall.Elapsed.TotalMilliseconds;
                    parallel.Add((jobs / (ms / 1000), clientCpu * 1000 / jobs, serverCpu * 1000 / jobs, (clientCpu + serverCpu) / ms / Environment.ProcessorCount));
                }
            }

            static double Median(IEnumerable<double> values)
                => InterleavedRunner.Percentile(values.Order().ToArray(), 0.5);

            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {scenario.Name} | {roundTrips} | {efCommands} | {Median(single.Select(s => s.Wall)):0.000} | {Median(single.Select(s => s.Client)):0} | {Median(single.Select(s => s.Server)):0} "
                + $"| {Median(parallel.Select(p => p.JobsPerSecond)):0} | {Median(parallel.Select(p => p.Client)):0} | {Median(parallel.Select(p => p.Server)):0} | {Median(parallel.Select(p => p.Busy)):0%} |");
        }

        report.AppendLine();
        report.AppendLine("What one claim transaction sends (Npgsql's debug log; -> marks a message that is a round trip to the server):");
        report.Append(transcripts);
        return report.ToString();
    }

    /// <summary>CPU milliseconds (user + system) of the given local processes so far; NaN when they cannot be read.</summary>
    private static double ServerCpu(int[] pids)
    {
        double ticks = 0;
        foreach (var pid in pids)
        {
            var path = $"/proc/{pid}/stat";
            if (!File.Exists(path))
            {
                return double.NaN;
            }

            var stat = File.ReadAllText(path);
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture); // utime, stime
        }

        return ticks * 10; // USER_HZ = 100 on Linux
    }

    private sealed record Line(string Category, string Message, bool RoundTrip);

    /// <summary>Keeps Npgsql's debug messages while started; a message that executes something on the server counts as a round trip.</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory
    {
        private readonly List<Line> _lines = [];
        private volatile bool _capturing;

        public void Start()
        {
            lock (_lines)
            {
                _lines.Clear();
            }

            _capturing = true;
        }

        public List<Line> Stop()
        {
            _capturing = false;
            lock (_lines)
            {
                return [.. _lines];
            }
        }

        public ILogger CreateLogger(string categoryName)
            => new Logger(this, categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private void Add(string category, string message)
        {
            if (!_capturing)
            {
                return;
            }

            // Npgsql logs "Executing command ..." / "Executing batch ..." before each command it sends (EF's SAVEPOINT and
            // RELEASE SAVEPOINT included), and "Committed transaction" / "Rolled back transaction" after the COMMIT or
            // ROLLBACK it sent. "Starting transaction" sends nothing: BEGIN is prepended to the next command.
            var roundTrip = message.StartsWith("Executing", StringComparison.Ordinal)
                || message.StartsWith("Committed", StringComparison.Ordinal)
                || message.StartsWith("Rolled back", StringComparison.Ordinal);
            lock (_lines)
            {
                _lines.Add(new Line(category, message.ReplaceLineEndings(" "), roundTrip));
            }
        }

        private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull
                => null;

            // Enabled only while a batch is being captured: Npgsql's debug logging costs CPU per command, which would
            // otherwise be added to every measured batch.
            public bool IsEnabled(LogLevel logLevel)
                => owner._capturing && logLevel >= LogLevel.Debug;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => owner.Add(category, formatter(state, exception));
        }
    }
}
