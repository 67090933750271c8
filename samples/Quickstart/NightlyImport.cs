using System.Diagnostics;
using Microsoft.EntityFrameworkCore;

/// <summary>
///     Scenario 5: the same nightly import started by two processes at once (two app servers, or a cron job that fired
///     twice). Each process takes the named lock "nightly-import" before it starts, so the second waits for the first,
///     then sees that the import already ran and does nothing: django-cache-lock's <c>with lock("nightly-import")</c>,
///     on the database the processes already share.
/// </summary>
public static class NightlyImport
{
    private const string WorkerArgument = "--import-worker=";

    /// <summary>The worker's name when this process was started as one by <see cref="RunTwoProcessesAsync" />.</summary>
    public static string? WorkerName(string[] args)
        => args.Where(a => a.StartsWith(WorkerArgument, StringComparison.Ordinal)).Select(a => a[WorkerArgument.Length..]).LastOrDefault();

    /// <summary>Starts two worker processes of this program on the same database and checks that their runs did not overlap.</summary>
    public static async Task<bool> RunTwoProcessesAsync(string connectionString)
    {
        var workers = new[] { "A", "B" }.Select(name => StartWorker(name, connectionString)).ToList();
        await Task.WhenAll(workers.Select(w => w.WaitForExitAsync()));
        foreach (var worker in workers)
        {
            if (worker.ExitCode != 0)
            {
                Console.WriteLine($"   A worker process failed with exit code {worker.ExitCode}.");
                return false;
            }
        }

        await using var db = new BlogContext(connectionString);
        var runs = (await db.ImportRuns.AsNoTracking().ToListAsync()).OrderBy(r => r.FencingToken).ToList();
        if (runs.Count != 2 || runs[1].StartedAt < runs[0].FinishedAt || runs.Sum(r => r.Imported) != 8)
        {
            Console.WriteLine("   The two imports overlapped or imported twice. (This should not happen.)");
            return false;
        }

        Console.WriteLine($"   Worker {runs[0].Worker} imported {runs[0].Imported} items; worker {runs[1].Worker} started after it had finished"
            + $" (no overlap), found the import done and imported {runs[1].Imported}. Fencing tokens {runs[0].FencingToken} < {runs[1].FencingToken}.");
        return true;
    }

    /// <summary>One worker process: wait for the lock, import what has not been imported today, record the run.</summary>
    public static async Task<int> RunWorkerAsync(string connectionString, string worker)
    {
        await using var db = new BlogContext(connectionString);
        await db.ImportRuns.CountAsync(); // start-up (model, connection) before the clock, so it measures the wait alone
        var waiting = Stopwatch.StartNew();
        await using var importLock = await db.Database.AcquireLockAsync("nightly-import", timeout: TimeSpan.FromMinutes(1));
        Console.WriteLine($"   [worker {worker}, pid {Environment.ProcessId}] has the lock after waiting {waiting.ElapsedMilliseconds} ms (fencing token {importLock.FencingToken}).");

        var startedAt = DateTimeOffset.UtcNow;
        var imported = 0;
        if (!await db.ImportRuns.AnyAsync(r => r.Imported > 0))
        {
            foreach (var item in Enumerable.Range(1, 8))
            {
                await Task.Delay(50); // the slow remote source
                db.Taxonomies.Add(new Taxonomy { RemoteId = $"nightly-{item}", Slug = $"nightly-{item}", Name = $"Nightly {item}" });
                imported++;
            }
        }

        db.ImportRuns.Add(new ImportRun
        {
            Worker = worker,
            FencingToken = importLock.FencingToken,
            StartedAt = startedAt,
            FinishedAt = DateTimeOffset.UtcNow,
            Imported = imported,
        });
        await db.SaveChangesAsync();
        Console.WriteLine($"   [worker {worker}] {(imported > 0 ? $"imported {imported} items" : "the import already ran: nothing to do")}; releasing the lock.");
        return 0;
    }

    private static Process StartWorker(string name, string connectionString)
    {
        // Run as "dotnet Quickstart.dll" or as the apphost: start the same program the same way.
        var host = Environment.ProcessPath!;
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(NightlyImport).Assembly.Location);
        }

        start.ArgumentList.Add(WorkerArgument + name);
        start.ArgumentList.Add("--ConnectionStrings:Default=" + connectionString);
        return Process.Start(start) ?? throw new InvalidOperationException("Could not start a worker process.");
    }
}

/// <summary>One run of the nightly import, recorded by the worker that held the lock.</summary>
public class ImportRun
{
    public int Id { get; set; }

    public string Worker { get; set; } = "";

    public long FencingToken { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset FinishedAt { get; set; }

    public int Imported { get; set; }
}
