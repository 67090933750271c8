using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Concurrency.NamedLockWorker;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.NamedLocks;

/// <summary>Named locks under real contention: OS processes, killed holders, terminated connections, fencing tokens.</summary>
[NonParallelizable] // spawns processes and holds many connections: the machine has few cores
public sealed class NamedLockConcurrencyTests(Provider provider) : NamedLockTestBase(provider)
{
    [SetUp]
    public async Task ResetCounter()
    {
        await using var context = CreateWorkerContext();
        await context.PlainCounters.ExecuteDeleteAsync();
        await context.TokenEntries.ExecuteDeleteAsync();
        context.PlainCounters.Add(new PlainCounter { Id = 1, Value = 0 });
        await context.SaveChangesAsync();
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task Processes_incrementing_under_one_lock_lose_no_update_and_log_increasing_tokens()
    {
        const int processes = 4;
        const int increments = 25;
        var name = UniqueName("processes");
        var workers = Enumerable.Range(0, processes)
            .Select(i => WorkerProcess.Start(Provider, ConnectionString, name, "increment", increments.ToString(System.Globalization.CultureInfo.InvariantCulture), $"w{i}"))
            .ToList();
        try
        {
            foreach (var worker in workers)
            {
                Assert.That(await worker.WaitForExitAsync(TimeSpan.FromMinutes(4)), Is.Zero);
            }
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }

        await using var context = CreateWorkerContext();
        Assert.That((await context.PlainCounters.SingleAsync()).Value, Is.EqualTo(processes * increments), "no read-modify-write was lost");
        var tokens = await context.TokenEntries.OrderBy(t => t.Id).Select(t => t.Token).ToListAsync();
        Assert.That(tokens, Has.Count.EqualTo(processes * increments));
        Assert.That(tokens, Is.Ordered.Ascending.And.Unique, "tokens grow in acquisition order, across processes");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Tasks_with_their_own_contexts_lose_no_update([Values] bool async)
    {
        const int tasks = 16;
        const int increments = 10;
        var name = UniqueName("tasks");
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < increments; i++)
            {
                await using var context = CreateWorkerContext();
                await using var handle = await Acquire(context, name, async, HangGuard);
                var value = await context.PlainCounters.AsNoTracking().Where(c => c.Id == 1).Select(c => c.Value).SingleAsync();
                await Task.Yield();
                await context.PlainCounters.Where(c => c.Id == 1).ExecuteUpdateAsync(s => s.SetProperty(c => c.Value, value + 1));
            }
        })));

        await using var check = CreateWorkerContext();
        Assert.That((await check.PlainCounters.SingleAsync()).Value, Is.EqualTo(tasks * increments));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_killed_holder_process_frees_the_lock_for_a_waiter()
    {
        var name = UniqueName("killed");
        using var holder = WorkerProcess.Start(Provider, ConnectionString, name, "hold");
        Assert.That(holder.NextLine(HangGuard), Does.StartWith("held "));
        Assert.That(await IsFree(name), Is.False, "the child process holds it");

        await using var context = CreateWorkerContext();
        var waiting = context.Database.AcquireLockAsync(name, HangGuard); // no expiry configured anywhere
        holder.Kill();
        await using var handle = await waiting;
        Assert.That(handle.Name, Is.EqualTo(name));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_terminated_connection_cancels_HandleLostToken_and_the_WithLock_body()
    {
        RequirePostgres("a SQLite file lock cannot be lost while its process lives.");
        var name = UniqueName("lost");
        await using (var context = CreateWorkerContext())
        {
            await using var handle = await context.Database.AcquireLockAsync(name);
            var lost = handle.HandleLostToken;
            Assert.That(lost.IsCancellationRequested, Is.False);
            ExecuteRaw($"SELECT pg_terminate_backend({BackendPid(context)})");
            await Task.Delay(Timeout.Infinite, lost).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(HangGuard);
            Assert.That(lost.IsCancellationRequested, Is.True);
            Assert.That(await IsFree(name), Is.True, "the server released it with the session");
        } // disposing the lost handle does not throw

        await using var worker = CreateWorkerContext();
        var bodyCancelled = false;
        await worker.Database.WithLockAsync(name, async ct =>
        {
            ExecuteRaw($"SELECT pg_terminate_backend({BackendPid(worker)})");
            try
            {
                await Task.Delay(HangGuard, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                bodyCancelled = true;
            }
        });
        Assert.That(bodyCancelled, Is.True, "the body's token was cancelled when the lock was lost");
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task Fencing_tokens_are_distinct_and_increase_in_acquisition_order([Values] bool async)
    {
        const int workers = 8;
        const int acquisitions = 200;
        var name = UniqueName("tokens");
        var order = new List<long>();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            await using var context = CreateWorkerContext();
            for (var i = 0; i < acquisitions; i++)
            {
                await using var handle = await Acquire(context, name, async, HangGuard);
                lock (order)
                {
                    order.Add(handle.FencingToken); // under the named lock: the list is in acquisition order
                }
            }
        })));

        Assert.That(order, Has.Count.EqualTo(workers * acquisitions));
        Assert.That(order, Is.Unique.And.Ordered.Ascending);
    }

    [Test]
    public async Task The_late_write_of_a_paused_holder_is_rejected_by_its_stale_token()
    {
        var name = UniqueName("fenced");
        await using var context = CreateWorkerContext();
        await context.FencedResources.Where(r => r.Id == 1).ExecuteDeleteAsync();
        context.FencedResources.Add(new FencedResource { Id = 1, Value = "initial" });
        await context.SaveChangesAsync();

        // A holder takes the lock and pauses (a GC pause, a stalled VM) past the loss of its lock...
        await using var pausedContext = CreateWorkerContext();
        var paused = await pausedContext.Database.AcquireLockAsync(name);
        var staleToken = paused.FencingToken;
        if (IsPostgres)
        {
            ExecuteRaw($"SELECT pg_terminate_backend({BackendPid(pausedContext)})"); // its session dies: the lock is lost
        }
        else
        {
            await paused.DisposeAsync(); // SQLite cannot lose a lock while the process lives: the end of the hold stands for it
        }

        // ...meanwhile the next holder acquires it and writes with its newer token.
        await using (var next = await context.Database.AcquireLockAsync(name, HangGuard))
        {
            Assert.That(await Write(context, "next holder", next.FencingToken), Is.EqualTo(1));
        }

        // The paused holder wakes up and writes: the database refuses the stale token.
        await using var late = CreateWorkerContext();
        Assert.That(await Write(late, "paused holder", staleToken), Is.Zero);
        Assert.That((await late.FencedResources.AsNoTracking().SingleAsync(r => r.Id == 1)).Value, Is.EqualTo("next holder"));
        await paused.DisposeAsync();
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_cancelled_wait_leaves_nothing_held_and_the_holder_keeps_its_lock([Values] bool beforeTheWait)
    {
        var name = UniqueName("cancel");
        await using var holderContext = CreateWorkerContext();
        await using var holder = await holderContext.Database.AcquireLockAsync(name);
        var locksWhileHeld = IsPostgres ? AdvisoryLocksInDatabase() : 0;

        await using var waiterContext = CreateWorkerContext();
        using var cancel = new CancellationTokenSource();
        if (beforeTheWait)
        {
            await cancel.CancelAsync();
        }
        else
        {
            cancel.CancelAfter(TimeSpan.FromMilliseconds(300));
        }

        await Assert.CatchAsync<OperationCanceledException>(async () => await waiterContext.Database.AcquireLockAsync(name, cancellationToken: cancel.Token));
        if (IsPostgres)
        {
            Assert.That(AdvisoryLocksInDatabase(), Is.EqualTo(locksWhileHeld), "nothing of the waiter's left in pg_locks, granted or waiting");
        }

        Assert.That(await IsFree(name), Is.False, "the holder keeps its lock");
        await holder.DisposeAsync();
        await using var after = await waiterContext.Database.AcquireLockAsync(name, HangGuard);
        Assert.That(after.Name, Is.EqualTo(name), "the cancelled context acquires normally afterwards");
    }

    private static async Task<int> Write(WorkerContext context, string value, long token)
        => await context.FencedResources
            .Where(r => r.Id == 1 && r.LastToken < token) // the fence: WHERE last_token < @token
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Value, value).SetProperty(r => r.LastToken, token));

    private static int BackendPid(DbContext context)
        => context.Database.SqlQueryRaw<int>("SELECT pg_backend_pid() AS \"Value\"").Single();
}
