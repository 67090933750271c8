using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Benchmarks;

/// <summary>
///     Optimistic against pessimistic on one hot row: W workers each doing read-modify-write increments of one counter,
///     either with [VersionField] and RetryOnConflictAsync (conflicts are retried), or with <c>ForUpdate()</c> in a
///     transaction (workers wait for the lock; also inside RetryOnConflictAsync, which would retry a deadlock). Both run
///     in every round, in an order that alternates, and the ratio of their increments/s is taken per round.
/// </summary>
public static class HotRow
{
    public static async Task<string> RunAsync(BenchDatabase database, int[] workerCounts, int incrementsPerWorker, int rounds)
    {
        var report = new StringBuilder();
        report.AppendLine("| workers | variant | increments per round | median increments/s | ForUpdate vs [VersionField], per round (p25-p75) | retries per increment | final counter = increments |");
        report.AppendLine("|---:|---|---:|---:|---:|---:|---|");
        foreach (var workers in workerCounts)
        {
            var optimistic = new List<Result>();
            var pessimistic = new List<Result>();
            for (var r = 0; r < rounds; r++)
            {
                database.Vacuum();
                if (r % 2 == 0)
                {
                    optimistic.Add(await RunAsync<VersionRow>(database, database.WithConcurrency, workers, incrementsPerWorker, locked: false));
                    pessimistic.Add(await RunAsync<PlainRow>(database, database.RowLocks, workers, incrementsPerWorker, locked: true));
                }
                else
                {
                    pessimistic.Add(await RunAsync<PlainRow>(database, database.RowLocks, workers, incrementsPerWorker, locked: true));
                    optimistic.Add(await RunAsync<VersionRow>(database, database.WithConcurrency, workers, incrementsPerWorker, locked: false));
                }
            }

            var ratios = pessimistic.Zip(optimistic, (p, o) => p.PerSecond / o.PerSecond).Order().ToArray();
            report.AppendLine(Row(workers, "[VersionField] + RetryOnConflictAsync", optimistic, ""));
            report.AppendLine(Row(
                workers,
                "ForUpdate() in a transaction",
                pessimistic,
                string.Create(CultureInfo.InvariantCulture, $"{InterleavedRunner.Percentile(ratios, 0.5):0.00}x ({InterleavedRunner.Percentile(ratios, 0.25):0.00}-{InterleavedRunner.Percentile(ratios, 0.75):0.00})")));
        }

        return report.ToString();

        string Row(int workers, string name, List<Result> results, string ratio)
            => string.Create(
                CultureInfo.InvariantCulture,
                $"| {workers} | {name} | {results[0].Successes} | {InterleavedRunner.Percentile(results.Select(x => x.PerSecond).Order().ToArray(), 0.5):0} | {ratio} "
                + $"| {(double)results.Sum(x => x.Retries) / results.Sum(x => x.Successes):0.00} | {(results.All(x => x.Final == x.Successes) ? "yes" : "NO")} |");
    }

    private sealed record Result(int Successes, int Retries, int Final, double PerSecond);

    private static async Task<Result> RunAsync<TRow>(BenchDatabase database, DbContextOptions<BenchContext> options, int workers, int incrementsPerWorker, bool locked)
        where TRow : Row
    {
        var table = locked ? "plain_rows" : "version_rows";
        database.Execute($"UPDATE {table} SET \"C\" = 0 WHERE \"Id\" = 1");
        var retries = 0;
        var contexts = new BenchContext[workers];
        for (var w = 0; w < workers; w++)
        {
            contexts[w] = new BenchContext(options);
            await contexts[w].Database.OpenConnectionAsync();
        }

        var stopwatch = Stopwatch.StartNew();
        var successes = await Task.WhenAll(contexts.Select(context => Task.Run(async () =>
        {
            for (var i = 0; i < incrementsPerWorker; i++)
            {
                var attempts = 0;
                await context.RetryOnConflictAsync(
                    async ct =>
                    {
                        attempts++;

                        // A fresh read every attempt: a query returns an entity the context already tracks with the
                        // tracked (stale) values, which would lose updates under ForUpdate and cause conflicts under versions.
                        context.ChangeTracker.Clear();
                        if (locked)
                        {
                            await using var transaction = await context.Database.BeginTransactionAsync(ct);
                            var row = await context.Set<TRow>().Where(r => r.Id == 1).ForUpdate().SingleAsync(ct);
                            row.C++;
                            await context.SaveChangesAsync(ct);
                            await transaction.CommitAsync(ct);
                        }
                        else
                        {
                            var row = await context.Set<TRow>().SingleAsync(r => r.Id == 1, ct);
                            row.C++;
                            await context.SaveChangesAsync(ct);
                        }
                    },
                    maxAttempts: 1000);
                Interlocked.Add(ref retries, attempts - 1);
            }

            return incrementsPerWorker;
        })));
        stopwatch.Stop();
        foreach (var context in contexts)
        {
            await context.DisposeAsync();
        }

        await using var check = new BenchContext(options);
        var final = (await check.Set<TRow>().AsNoTracking().SingleAsync(r => r.Id == 1)).C;
        var total = successes.Sum();
        if (final != total)
        {
            throw new InvalidOperationException($"Lost updates on the hot row ({(locked ? "ForUpdate" : "[VersionField]")}, {workers} workers): {total} increments, counter {final}.");
        }

        return new Result(total, retries, final, total / stopwatch.Elapsed.TotalSeconds);
    }
}
