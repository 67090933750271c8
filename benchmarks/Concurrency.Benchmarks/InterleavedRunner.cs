using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Concurrency.Benchmarks;

/// <summary>
///     Ratios that survive a noisy machine: each round runs every variant of a group once, in a rotating order, on
///     identical data; the ratio to the group's baseline is taken per round, and the median of those per-round ratios is
///     reported with its spread (25th-75th percentile). Slow spells hit both sides of a round alike.
/// </summary>
public static class InterleavedRunner
{
    public static async Task<string> RunAsync(BenchDatabase database, IReadOnlyList<(string Group, Func<Scenario[]> Variants, int[] Sizes)> groups, int rounds, bool warmup)
    {
        var report = new StringBuilder();
        report.AppendLine("| group | N | variant | median ratio vs baseline | p25-p75 | vs goal reference (p25-p75) | median time | allocated per row | alloc vs reference |");
        report.AppendLine("|---|---:|---|---:|---:|---|---:|---:|---:|");
        var round = 0;
        foreach (var (group, variants, sizes) in groups)
        {
            foreach (var rows in sizes)
            {
                var scenarios = variants();
                var times = scenarios.Select(_ => new List<double>()).ToArray();
                var bytes = scenarios.Select(_ => new List<long>()).ToArray();
                for (var r = warmup ? -1 : 0; r < rounds; r++)
                {
                    round++;
                    database.Vacuum();
                    for (var k = 0; k < scenarios.Length; k++)
                    {
                        var i = (k + Math.Max(r, 0)) % scenarios.Length; // rotate the order every round
                        var scenario = scenarios[i];
                        await scenario.PrepareAsync(database, rows, round);
                        GC.Collect();
                        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                        var stopwatch = Stopwatch.StartNew();
                        await scenario.RunAsync();
                        stopwatch.Stop();
                        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                        await scenario.CleanupAsync();
                        if (r >= 0)
                        {
                            times[i].Add(scenario.TimedMilliseconds ?? stopwatch.Elapsed.TotalMilliseconds);
                            bytes[i].Add(scenario.TimedAllocatedBytes ?? allocated);
                        }
                    }
                }

                double MedianBytes(int i) => Percentile(bytes[i].Order().Select(b => (double)b).ToArray(), 0.5);
                for (var i = 0; i < scenarios.Length; i++)
                {
                    var ratios = times[i].Zip(times[0], (t, b) => t / b).Order().ToArray();
                    var versus = new List<string>();
                    var allocVersus = new List<string>();
                    foreach (var name in scenarios[i].References)
                    {
                        var reference = Array.FindIndex(scenarios, s => s.Name == name);
                        if (reference < 0)
                        {
                            continue;
                        }

                        // The goal's own ratio, also taken per round, so a slow spell hits both sides alike.
                        var goal = times[i].Zip(times[reference], (t, b) => t / b).Order().ToArray();
                        versus.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{Percentile(goal, 0.5):0.00}x {scenarios[reference].Name} ({Percentile(goal, 0.25):0.00}-{Percentile(goal, 0.75):0.00})"));
                        allocVersus.Add(string.Create(CultureInfo.InvariantCulture, $"{(MedianBytes(i) / MedianBytes(reference)) - 1:+0%;-0%;0%}"));
                    }

                    var versusReference = string.Join("; ", versus);
                    var allocVersusReference = string.Join("; ", allocVersus);
                    report.AppendLine(CultureInfo.InvariantCulture,
                        $"| {group} | {rows} | {scenarios[i].Name} | {(i == 0 ? "1.00 (baseline)" : Percentile(ratios, 0.5).ToString("0.00", CultureInfo.InvariantCulture) + "x")} "
                        + $"| {(i == 0 ? "" : $"{Percentile(ratios, 0.25):0.00}-{Percentile(ratios, 0.75):0.00}")} | {versusReference} "
                        + $"| {Percentile(times[i].Order().ToArray(), 0.5):0.000} ms | {MedianBytes(i) / Math.Max(rows, 1) / 1024:0.0} KiB | {allocVersusReference} |");
                }
            }
        }

        return report.ToString();
    }

    internal static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var position = (sorted.Length - 1) * p;
        var lower = (int)Math.Floor(position);
        var upper = (int)Math.Ceiling(position);
        return sorted[lower] + ((sorted[upper] - sorted[lower]) * (position - lower));
    }
}
