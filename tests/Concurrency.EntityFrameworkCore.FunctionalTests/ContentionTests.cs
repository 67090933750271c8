using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>Real parallel connections racing on one row: no lost update, ever.</summary>
public sealed class ContentionTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    [CancelAfter(120_000)]
    public async Task Eight_workers_incrementing_one_counter_lose_no_update(CancellationToken cancellationToken)
    {
        var counter = await Add(new Counter { Value = 0 });
        const int workers = 8;
        const int incrementsPerWorker = 25;
        var conflicts = 0;

        var successes = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var done = 0;
            for (var i = 0; i < incrementsPerWorker; i++)
            {
                // A bounded retry loop: read, increment, save; on a conflict, try again from a fresh read.
                for (var attempt = 0; attempt < 200; attempt++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await using var context = CreateContext();
                    var row = await context.Counters.SingleAsync(x => x.Id == counter.Id, cancellationToken);
                    row.Value++;
                    try
                    {
                        await context.SaveChangesAsync(cancellationToken);
                        done++;
                        break;
                    }
                    catch (RecordModifiedException)
                    {
                        Interlocked.Increment(ref conflicts);
                    }
                    catch (DbUpdateException e) when (e.InnerException?.Message.Contains("locked", StringComparison.OrdinalIgnoreCase) == true)
                    {
                        // SQLite: another writer holds the file lock past the busy timeout; retry like a conflict.
                    }
                }
            }

            return done;
        }, cancellationToken)));

        await using var check = CreateContext();
        var stored = await check.Counters.SingleAsync(x => x.Id == counter.Id, cancellationToken);
        Assert.That(stored.Value, Is.EqualTo(successes.Sum()), $"lost updates: {successes.Sum() - stored.Value}");
        Assert.That(stored.Version, Is.EqualTo(successes.Sum() + 1));
        Assert.That(successes.Sum(), Is.EqualTo(workers * incrementsPerWorker), "every worker finished within its retry budget");
        NUnit.Framework.TestContext.Out.WriteLine($"{Provider}: {successes.Sum()} increments, {conflicts} conflicts, lost updates: 0");
    }
}
