using Concurrency.NamedLockWorker;
using Microsoft.EntityFrameworkCore;

// dotnet Concurrency.NamedLockWorker.dll <sqlite|postgres> <connection string> <lock name> <increment K|hold> [writer]
//   increment K: K times, under the named lock, reads the counter, yields, writes it + 1 (no version check) and logs the
//                fencing token; prints "done".
//   hold:        acquires the lock, prints "held <token>", then waits until killed.
var (provider, connectionString, name, mode) = (args[0], args[1], args[2], args[3]);
if (mode == "hold")
{
    await using var context = WorkerContext.Create(provider, connectionString);
    var handle = await context.Database.AcquireLockAsync(name);
    Console.WriteLine($"held {handle.FencingToken}");
    await Task.Delay(Timeout.Infinite);
}

var increments = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
var writer = args.Length > 5 ? args[5] : Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
for (var i = 0; i < increments; i++)
{
    await using var context = WorkerContext.Create(provider, connectionString);
    await using (var handle = await context.Database.AcquireLockAsync(name, TimeSpan.FromMinutes(2)))
    {
        var value = await context.PlainCounters.AsNoTracking().Where(c => c.Id == 1).Select(c => c.Value).SingleAsync();
        await Task.Yield();
        await context.PlainCounters.Where(c => c.Id == 1).ExecuteUpdateAsync(s => s.SetProperty(c => c.Value, value + 1));
        context.TokenEntries.Add(new TokenEntry { Token = handle.FencingToken, Writer = writer });
        await context.SaveChangesAsync();
    }
}

Console.WriteLine("done");
