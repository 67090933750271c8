using System.Diagnostics;
using System.Globalization;
using System.Text;
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Benchmarks;

/// <summary>
///     Client CPU per locking query by key (<c>--lock-profile</c>), decomposed: each variant runs blocks of queries in one
///     open transaction, blocks interleaved in a rotating order, and the process CPU time (<see cref="Process.TotalProcessorTime" />)
///     and wall time of each block are divided by its queries. The steps between the variants isolate: LINQ against
///     FromSql on plain EF; the library's options on a query without a lock; <c>ForUpdate()</c> itself; the timeout.
/// </summary>
public static class LockProfile
{
    public static async Task<string> RunAsync(BenchDatabase database, int blocks, int queriesPerBlock)
    {
        (string Name, DbContextOptions<BenchContext> Options, Func<BenchContext, int, Task<PlainRow>> Query)[] variants =
        [
            ("FromSql(\"... FOR UPDATE\"), plain EF", database.PlainEfCounted,
                (c, id) => c.Set<PlainRow>().FromSql($"SELECT * FROM plain_rows WHERE \"Id\" = {id} FOR UPDATE").SingleAsync()),
            ("LINQ Where(Id == id), no lock, plain EF", database.PlainEfCounted,
                (c, id) => c.Set<PlainRow>().Where(r => r.Id == id).SingleAsync()),
            ("LINQ Where(Id == id), no lock, UseConcurrency().UseRowLocks()", database.RowLocks,
                (c, id) => c.Set<PlainRow>().Where(r => r.Id == id).SingleAsync()),
            ("ForUpdate()", database.RowLocks,
                (c, id) => c.Set<PlainRow>().Where(r => r.Id == id).ForUpdate().SingleAsync()),
            ("ForUpdate(timeout: 2 s)", database.RowLocks,
                (c, id) => c.Set<PlainRow>().Where(r => r.Id == id).ForUpdate(timeout: TimeSpan.FromSeconds(2)).SingleAsync()),
        ];
        var contexts = variants.Select(v => new BenchContext(v.Options)).ToArray();
        foreach (var context in contexts)
        {
            await context.Database.BeginTransactionAsync();
        }

        var cpu = variants.Select(_ => new List<double>()).ToArray();
        var wall = variants.Select(_ => new List<double>()).ToArray();
        var id = 0;
        var span = BenchDatabase.SeedRows / variants.Length;
        for (var b = -1; b < blocks; b++)
        {
            for (var k = 0; k < variants.Length; k++)
            {
                var i = (k + Math.Max(b, 0)) % variants.Length;
                var context = contexts[i];
                GC.Collect();
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var stopwatch = Stopwatch.StartNew();
                for (var q = 0; q < queriesPerBlock; q++)
                {
                    context.ChangeTracker.Clear();
                    await variants[i].Query(context, (i * span) + (id++ % span) + 1); // each variant's own rows: its transaction keeps their locks
                }

                stopwatch.Stop();
                if (b >= 0)
                {
                    cpu[i].Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / queriesPerBlock);
                    wall[i].Add(stopwatch.Elapsed.TotalMicroseconds / queriesPerBlock);
                }
            }
        }

        foreach (var context in contexts)
        {
            await context.DisposeAsync();
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{blocks} blocks of {queriesPerBlock} queries per variant, interleaved; client CPU and wall per query (median of blocks, p25-p75); ratios per block against the first row.");
        report.AppendLine("| variant | client CPU µs/query | p25-p75 | CPU vs FromSql, per block (p25-p75) | wall µs/query | wall vs FromSql, per block (p25-p75) |");
        report.AppendLine("|---|---:|---:|---:|---:|---:|");
        for (var i = 0; i < variants.Length; i++)
        {
            var c = cpu[i].Order().ToArray();
            var cr = cpu[i].Zip(cpu[0], (x, y) => x / y).Order().ToArray();
            var wr = wall[i].Zip(wall[0], (x, y) => x / y).Order().ToArray();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {variants[i].Name} | {P(c, 0.5):0} | {P(c, 0.25):0}-{P(c, 0.75):0} | {P(cr, 0.5):0.00}x ({P(cr, 0.25):0.00}-{P(cr, 0.75):0.00}) | {P(wall[i].Order().ToArray(), 0.5):0} | {P(wr, 0.5):0.00}x ({P(wr, 0.25):0.00}-{P(wr, 0.75):0.00}) |");
        }

        return report.ToString();

        static double P(double[] sorted, double p)
            => InterleavedRunner.Percentile(sorted, p);
    }
}
