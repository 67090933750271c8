using System.Diagnostics;
using System.Globalization;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Benchmarks;

/// <summary>
///     8 workers each doing read-modify-write increments of one counter: with [VersionField] and RetryOnConflictAsync (no
///     update may be lost), and without any token (the lost updates this library prevents).
/// </summary>
public static class Contention
{
    public static async Task<string> RunAsync(BenchDatabase database, int workers, int incrementsPerWorker)
    {
        database.Execute("UPDATE version_rows SET \"C\" = 0 WHERE \"Id\" = 1");
        database.Execute("UPDATE plain_rows SET \"C\" = 0 WHERE \"Id\" = 1");
        var versioned = await RunAsync<VersionRow>(database.WithConcurrency, workers, incrementsPerWorker, retry: true);
        var plain = await RunAsync<PlainRow>(database.PlainEf, workers, incrementsPerWorker, retry: false);
        return string.Join(
            Environment.NewLine,
            "| variant | successful increments | increments/s | conflicts | final counter | lost updates |",
            "|---|---:|---:|---:|---:|---:|",
            Row("[VersionField] + RetryOnConflictAsync", versioned),
            Row("no token", plain));

        static string Row(string name, (int Successes, int Conflicts, int Final, double Seconds) r)
            => string.Create(
                CultureInfo.InvariantCulture,
                $"| {name} | {r.Successes} | {r.Successes / r.Seconds:0} | {r.Conflicts} | {r.Final} | {r.Successes - r.Final} |");
    }

    private static async Task<(int Successes, int Conflicts, int Final, double Seconds)> RunAsync<TRow>(
        DbContextOptions<BenchContext> options,
        int workers,
        int incrementsPerWorker,
        bool retry)
        where TRow : Row
    {
        var conflicts = 0;
        var stopwatch = Stopwatch.StartNew();
        var successes = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var done = 0;
            await using var context = new BenchContext(options);
            for (var i = 0; i < incrementsPerWorker; i++)
            {
                if (retry)
                {
                    // The library's retry helper: clears the tracker, backs off with jitter, runs the unit of work again.
                    var attempts = 0;
                    await context.RetryOnConflictAsync(
                        async ct =>
                        {
                            attempts++;
                            var row = await context.Set<TRow>().SingleAsync(r => r.Id == 1, ct);
                            row.C++;
                            await context.SaveChangesAsync(ct);
                        },
                        maxAttempts: 1000);
                    Interlocked.Add(ref conflicts, attempts - 1);
                }
                else
                {
                    context.ChangeTracker.Clear();
                    var row = await context.Set<TRow>().SingleAsync(r => r.Id == 1);
                    row.C++;
                    await context.SaveChangesAsync();
                }

                done++;
            }

            return done;
        })));
        stopwatch.Stop();

        await using var check = new BenchContext(options);
        var final = (await check.Set<TRow>().AsNoTracking().SingleAsync(r => r.Id == 1)).C;
        var total = successes.Sum();
        if (retry && final != total)
        {
            throw new InvalidOperationException($"Lost updates with [VersionField]: {total} increments, counter {final}.");
        }

        return (total, conflicts, final, stopwatch.Elapsed.TotalSeconds);
    }
}
