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
        (string Name, DbContextOptions<BenchContext> Options, Func<BenchContext, int, Task<PlainRow>> Query)[] efVariants =
        [
            ("FromSql(\"... FOR UPDATE\"), plain EF", database.PlainEfCounted,
                (c, id) => c.Set<PlainRow>().FromSql($"SELECT * FROM plain_rows WHERE \"Id\" = {id} FOR UPDATE").SingleAsync()),
            ("FromSql(\"... FOR UPDATE\"), UseConcurrency()", new DbContextOptionsBuilder<BenchContext>().UseNpgsql(database.ConnectionString).UseConcurrency().AddInterceptors(database.Commands).Options,
                (c, id) => c.Set<PlainRow>().FromSql($"SELECT * FROM plain_rows WHERE \"Id\" = {id} FOR UPDATE").SingleAsync()),
            ("FromSql(\"... FOR UPDATE\"), UseConcurrency().UseRowLocks()", database.RowLocks,
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

        // The database's side of the two SQL shapes: the command texts EF sends for the FromSql, the unlocked LINQ and the ForUpdate() variant, sent by
        // raw Npgsql, so the difference between them is the SQL's (the server's parse, plan and lock, the bytes on the wire),
        // not EF's or the library's client work.
        var fromSqlText = await CommandTextAsync(database, efVariants[0].Options, efVariants[0].Query);
        var unlockedText = await CommandTextAsync(database, efVariants[3].Options, efVariants[3].Query);
        var forUpdateText = await CommandTextAsync(database, efVariants[5].Options, efVariants[5].Query);
        var raw = new List<(string Name, Func<int, Task> Run, IAsyncDisposable State)>();
        var contexts = new List<BenchContext>();
        foreach (var (name, options, query) in efVariants)
        {
            var context = new BenchContext(options);
            await context.Database.BeginTransactionAsync();
            contexts.Add(context);
            raw.Add((name, async id =>
            {
                context.ChangeTracker.Clear();
                await query(context, id);
            }, context));
        }

        foreach (var (name, text) in new[]
                 {
                     ("raw Npgsql, EF's FromSql command text", fromSqlText),
                     ("raw Npgsql, EF's LINQ command text, no lock", unlockedText),
                     ("raw Npgsql, EF's ForUpdate() command text", forUpdateText),
                 })
        {
            var connection = database.OpenRawConnection();
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            raw.Add((name, async id =>
            {
                await using var command = new Npgsql.NpgsqlCommand(text.Sql, connection, transaction);
                command.Parameters.AddWithValue(text.Parameter, id);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    _ = reader.GetInt32(0);
                }
            }, connection));
        }

        var only = Environment.GetEnvironmentVariable("LOCK_PROFILE_ONLY"); // e.g. "2,3": only those variants, for a CPU profiler
        var variants = only is null ? raw.ToArray() : only.Split(',').Select(int.Parse).Select(i => raw[i]).ToArray();
        var cpu = variants.Select(_ => new List<double>()).ToArray();
        var wall = variants.Select(_ => new List<double>()).ToArray();
        var bytes = variants.Select(_ => new List<double>()).ToArray();
        var id = 0;
        var span = BenchDatabase.SeedRows / variants.Length;
        for (var b = -1; b < blocks; b++)
        {
            for (var k = 0; k < variants.Length; k++)
            {
                var i = (k + Math.Max(b, 0)) % variants.Length;
                GC.Collect();
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var bytesBefore = GC.GetTotalAllocatedBytes(precise: true);
                var stopwatch = Stopwatch.StartNew();
                for (var q = 0; q < queriesPerBlock; q++)
                {
                    await variants[i].Run((i * span) + (id++ % span) + 1); // each variant's own rows: its transaction keeps their locks
                }

                stopwatch.Stop();
                if (b >= 0)
                {
                    cpu[i].Add((Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMicroseconds / queriesPerBlock);
                    wall[i].Add(stopwatch.Elapsed.TotalMicroseconds / queriesPerBlock);
                    bytes[i].Add((GC.GetTotalAllocatedBytes(precise: true) - bytesBefore) / (double)queriesPerBlock);
                }
            }
        }

        foreach (var variant in variants)
        {
            await variant.State.DisposeAsync();
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"{blocks} blocks of {queriesPerBlock} queries per variant, interleaved; client CPU and wall per query (median of blocks, p25-p75); ratios per block against the first row.");
        report.AppendLine("| variant | client CPU µs/query | p25-p75 | CPU vs FromSql, per block (p25-p75) | wall µs/query | wall vs FromSql, per block (p25-p75) | allocated per query |");
        report.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        for (var i = 0; i < variants.Length; i++)
        {
            var c = cpu[i].Order().ToArray();
            var cr = cpu[i].Zip(cpu[0], (x, y) => x / y).Order().ToArray();
            var wr = wall[i].Zip(wall[0], (x, y) => x / y).Order().ToArray();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {variants[i].Name} | {P(c, 0.5):0} | {P(c, 0.25):0}-{P(c, 0.75):0} | {P(cr, 0.5):0.00}x ({P(cr, 0.25):0.00}-{P(cr, 0.75):0.00}) | {P(wall[i].Order().ToArray(), 0.5):0} | {P(wr, 0.5):0.00}x ({P(wr, 0.25):0.00}-{P(wr, 0.75):0.00}) | {P(bytes[i].Order().ToArray(), 0.5) / 1024:0.0} KiB |");
        }

        report.AppendLine().AppendLine("FromSql command text:").AppendLine(fromSqlText.Sql);
        report.AppendLine().AppendLine("ForUpdate() command text:").AppendLine(forUpdateText.Sql);
        return report.ToString();

        static double P(double[] sorted, double p)
            => InterleavedRunner.Percentile(sorted, p);
    }

    /// <summary>The command text (and its one parameter's name) EF sends for <paramref name="query" />.</summary>
    private static async Task<(string Sql, string Parameter)> CommandTextAsync(
        BenchDatabase database,
        DbContextOptions<BenchContext> options,
        Func<BenchContext, int, Task<PlainRow>> query)
    {
        var capture = new CommandCapture();
        var builder = new DbContextOptionsBuilder<BenchContext>(options).AddInterceptors(capture);
        await using var context = new BenchContext(builder.Options);
        await using var transaction = await context.Database.BeginTransactionAsync();
        await query(context, BenchDatabase.SeedRows);
        return (capture.Sql!, capture.Parameter!);
    }

    private sealed class CommandCapture : Microsoft.EntityFrameworkCore.Diagnostics.DbCommandInterceptor
    {
        public string? Sql { get; private set; }

        public string? Parameter { get; private set; }

        public override ValueTask<Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<System.Data.Common.DbDataReader>> ReaderExecutingAsync(
            System.Data.Common.DbCommand command,
            Microsoft.EntityFrameworkCore.Diagnostics.CommandEventData eventData,
            Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<System.Data.Common.DbDataReader> result,
            CancellationToken cancellationToken = default)
        {
            Sql = command.CommandText;
            Parameter = command.Parameters[0].ParameterName;
            return ValueTask.FromResult(result);
        }
    }
}
