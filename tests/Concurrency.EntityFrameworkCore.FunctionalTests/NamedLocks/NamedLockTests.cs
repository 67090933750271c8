using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Concurrency.NamedLockWorker;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.NamedLocks;

/// <summary>Named locks one call at a time: timeouts, Try, re-entrancy, the transaction form, keys, entity locks, bad input.</summary>
public sealed class NamedLockTests(Provider provider) : NamedLockTestBase(provider)
{
    [Test]
    [CancelAfter(60_000)]
    public async Task Acquire_with_a_timeout_throws_while_held_and_succeeds_once_released([Values] bool async)
    {
        var name = UniqueName();
        await using var holderContext = CreateWorkerContext();
        var holder = await Acquire(holderContext, name, async);

        await using var other = CreateWorkerContext();
        var error = async
            ? await Assert.ThrowsAsync<LockTimeoutException>(() => other.Database.AcquireLockAsync(name, TimeSpan.FromMilliseconds(200)))
            : Assert.Throws<LockTimeoutException>(() => other.Database.AcquireLock(name, TimeSpan.FromMilliseconds(200)));
        Assert.That(error, Is.InstanceOf<TimeoutException>());
        Assert.That(error!.LockName, Is.EqualTo(name));
        Assert.That(error.Message, Does.Contain(name).And.Contain("00:00:00.2"));

        await holder.DisposeAsync();
        await using var handle = await Acquire(other, name, async, HangGuard);
        Assert.That(handle.Name, Is.EqualTo(name));
    }

    [Test]
    public async Task TryAcquire_returns_null_while_held_and_a_handle_once_released([Values] bool async)
    {
        var name = UniqueName();
        await using var holderContext = CreateWorkerContext();
        var holder = await Acquire(holderContext, name, async);

        await using var other = CreateWorkerContext();
        Assert.That(await TryAcquire(other, name, async), Is.Null, "default timeout: no wait");
        Assert.That(await TryAcquire(other, name, async, TimeSpan.FromMilliseconds(100)), Is.Null);

        holder.Dispose();
        holder.Dispose(); // twice is harmless
        await using var handle = await TryAcquire(other, name, async);
        Assert.That(handle, Is.Not.Null);
    }

    [Test]
    public async Task A_waiter_gets_the_lock_when_the_holder_releases_it()
    {
        var name = UniqueName();
        await using var holderContext = CreateWorkerContext();
        var holder = await holderContext.Database.AcquireLockAsync(name);
        await using var waiterContext = CreateWorkerContext();
        var waiting = waiterContext.Database.AcquireLockAsync(name, HangGuard);
        await Task.Delay(100);
        Assert.That(waiting.IsCompleted, Is.False, "the waiter waits while the lock is held");
        await holder.DisposeAsync();
        await using var handle = await waiting;
        Assert.That(handle.FencingToken, Is.GreaterThan(holder.FencingToken));
    }

    [Test]
    public async Task Acquiring_a_name_this_context_holds_is_refused_and_another_context_waits([Values] bool async)
    {
        var name = UniqueName();
        await using var context = CreateWorkerContext();
        await using var first = await Acquire(context, name, async);
        var error = Assert.Throws<InvalidOperationException>(() => context.Database.AcquireLock(name, TimeSpan.Zero));
        Assert.That(error!.Message, Does.Contain(name).And.Contain("not re-entrant"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => TryAcquire(context, name, async));
        await using var otherContext = CreateWorkerContext();
        Assert.That(await TryAcquire(otherContext, name, async, TimeSpan.FromMilliseconds(100)), Is.Null, "another context waits like any holder");
    }

    [Test]
    public async Task A_refused_second_acquisition_leaves_the_first_held()
    {
        var name = UniqueName();
        await using var context = CreateWorkerContext();
        await using var first = await context.Database.AcquireLockAsync(name);
        await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.AcquireLockAsync(name));
        await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.TryAcquireLockAsync(name));
        Assert.That(await IsFree(name), Is.False, "the refusal released nothing");

        await using var otherContext = CreateWorkerContext();
        Assert.That(await otherContext.Database.TryAcquireLockAsync(name, TimeSpan.FromMilliseconds(100)), Is.Null, "another context of the same flow waits like any holder");
        await first.DisposeAsync();
        Assert.That(await IsFree(name), Is.True);
    }

    [Test]
    public async Task A_transaction_lock_is_held_until_commit_or_rollback([Values] bool commit, [Values] bool async)
    {
        var name = UniqueName("xact");
        await using var context = CreateWorkerContext();
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            var token = async ? await context.Database.AcquireTransactionLockAsync(name) : context.Database.AcquireTransactionLock(name);
            Assert.That(token, Is.Positive);
            Assert.That(await IsFree(name), Is.False);
            if (commit)
            {
                await transaction.CommitAsync();
            }
            else
            {
                await transaction.RollbackAsync();
            }
        }

        Assert.That(await IsFree(name), Is.True);
    }

    [Test]
    public async Task A_transaction_lock_and_a_session_lock_of_one_name_exclude_each_other()
    {
        var name = UniqueName("xact");
        await using var sessionContext = CreateWorkerContext();
        await using (var session = await sessionContext.Database.AcquireLockAsync(name))
        {
            await using var context = CreateWorkerContext();
            await using var transaction = await context.Database.BeginTransactionAsync();
            await Assert.ThrowsAsync<LockTimeoutException>(() => context.Database.AcquireTransactionLockAsync(name, TimeSpan.FromMilliseconds(200)));
            Assert.That(await context.Database.TryAcquireTransactionLockAsync(name), Is.Null);
            Assert.That(await context.PlainCounters.CountAsync(), Is.GreaterThanOrEqualTo(0), "the timeout left the transaction usable");
        }

        await using var holder = CreateWorkerContext();
        await using var holderTransaction = await holder.Database.BeginTransactionAsync();
        await holder.Database.AcquireTransactionLockAsync(name, HangGuard);
        await using var other = CreateWorkerContext();
        Assert.That(await other.Database.TryAcquireLockAsync(name, TimeSpan.FromMilliseconds(100)), Is.Null);
        await holderTransaction.RollbackAsync();
        await using var after = await other.Database.AcquireLockAsync(name, HangGuard);
    }

    [Test]
    public async Task A_timed_wait_inside_a_transaction_leaves_it_usable_and_lock_timeout_as_it_was([Values] bool async)
    {
        RequirePostgres("SQLite has no lock_timeout.");
        var name = UniqueName();
        await using var holderContext = CreateWorkerContext();
        await using var holder = await holderContext.Database.AcquireLockAsync(name);

        await using var context = CreateWorkerContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        await context.Database.ExecuteSqlRawAsync("SET LOCAL lock_timeout = '5s'");
        Assert.That(await TryAcquire(context, name, async, TimeSpan.FromMilliseconds(200)), Is.Null);
        await Assert.ThrowsAsync<LockTimeoutException>(() => Acquire(context, name, async, TimeSpan.FromMilliseconds(200)));
        await holder.DisposeAsync();
        await using var handle = await Acquire(context, name, async, HangGuard);
        Assert.That(await context.PlainCounters.CountAsync(), Is.GreaterThanOrEqualTo(0), "the transaction is usable");
        Assert.That(await context.Database.SqlQueryRaw<string>("SELECT current_setting('lock_timeout') AS \"Value\"").SingleAsync(), Is.EqualTo("5s"));
        await transaction.CommitAsync();
        Assert.That(await IsFree(name), Is.False, "a session lock outlives the transaction it was taken in");
    }

    [Test]
    public async Task A_transaction_lock_needs_a_transaction_and_is_not_re_entrant()
    {
        var name = UniqueName("xact");
        await using var context = CreateWorkerContext();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.AcquireTransactionLockAsync(name));
        Assert.That(error!.Message, Does.Contain("needs a current transaction").And.Contain("BeginTransaction"));

        await using var transaction = await context.Database.BeginTransactionAsync();
        await context.Database.AcquireTransactionLockAsync(name);
        error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.AcquireTransactionLockAsync(name));
        Assert.That(error!.Message, Does.Contain(name).And.Contain("current transaction"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => context.Database.AcquireLockAsync(name), "a session lock of a name the transaction holds");
        await transaction.CommitAsync();

        await using var transaction2 = await context.Database.BeginTransactionAsync();
        Assert.That(await context.Database.AcquireTransactionLockAsync(name, HangGuard), Is.Positive, "the next transaction takes it again");
    }

    [Test]
    public async Task Acquiring_and_releasing_is_one_command_each_through_EFs_pipeline()
    {
        var name = UniqueName();
        var commands = new CommandCounter();
        await using var context = CreateWorkerContext(commands);
        (await context.Database.AcquireLockAsync(UniqueName("warm-up"))).Dispose(); // the token storage is created once per database
        commands.Reset();

        var handle = await context.Database.AcquireLockAsync(name);
        Assert.That(commands.Commands, Is.EqualTo(1), "acquire: lock and fencing token in one statement");
        Assert.That(commands.Sql, Does.Contain(IsPostgres ? "pg_try_advisory_lock" : "__concurrency_lock_token"));
        commands.Reset();
        await handle.DisposeAsync();
        Assert.That(commands.Commands, Is.EqualTo(IsPostgres ? 1 : 0), "release: one unlock (SQLite: closing the lock file)");
    }

    [Test]
    public async Task Ten_thousand_names_are_ten_thousand_locks()
    {
        var names = Enumerable.Range(0, 10_000).Select(i => (i % 4) switch
        {
            0 => $"name-{i}",
            1 => $"name-{i}\0",
            2 => $"NAME-{i}",
            _ => $"{i}-" + new string('x', i % 300),
        }).ToList();
        Assert.That(names.Select(LockKey.Of).Distinct().Count(), Is.EqualTo(names.Count), "10,000 names, 10,000 keys");

        // In batches (PostgreSQL's lock table is finite): two contexts take alternate names of a batch without waiting,
        // so a name of one that shared a lock with any held name of the other would come back null.
        const int batch = 1000;
        await using var evenContext = CreateWorkerContext();
        await using var oddContext = CreateWorkerContext();
        for (var start = 0; start < names.Count; start += batch)
        {
            var held = new List<NamedLockHandle>();
            for (var i = start; i < start + batch; i++)
            {
                var handle = await (i % 2 == 0 ? evenContext : oddContext).Database.TryAcquireLockAsync(names[i]);
                Assert.That(handle, Is.Not.Null, $"name {i} shares a lock with another name of its batch");
                held.Add(handle!);
            }

            Assert.That(await IsFree(names[start]), Is.False, "a held name is locked for others");
            foreach (var handle in held)
            {
                await handle.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task Names_of_any_characters_and_length_work()
    {
        string[] names = ["a\0b", "a\0c", new string('ä', 100_000), "\ud800", "\udc00", "😀 ' \" ; -- DROP TABLE x", " "];
        await using var context = CreateWorkerContext();
        var handles = new List<NamedLockHandle>();
        foreach (var name in names)
        {
            handles.Add(await context.Database.AcquireLockAsync(name));
        }

        foreach (var name in names)
        {
            Assert.That(await IsFree(name), Is.False, $"'{name[..Math.Min(10, name.Length)]}' is held");
        }

        foreach (var handle in handles)
        {
            await handle.DisposeAsync();
        }

        Assert.That(await IsFree(names[0]), Is.True);
    }

    [Test]
    public async Task Entity_locks_include_the_type_and_work_with_composite_keys_untracked_and_absent([Values] bool async)
    {
        await using var context = CreateWorkerContext();
        var counter = new PlainCounter { Id = 5 };
        var bin = new Bin { Aisle = 1, Slot = 2 }; // never saved
        await using var counterLock = async ? await context.AcquireLockAsync(counter) : context.AcquireLock(counter);
        await using var binLock = async ? await context.AcquireLockAsync(bin) : context.AcquireLock(bin);
        Assert.That(counterLock.Name, Is.EqualTo("entity:Concurrency.NamedLockWorker.PlainCounter(Id=5)"));
        Assert.That(binLock.Name, Is.EqualTo("entity:Concurrency.NamedLockWorker.Bin(Aisle=1, Slot=2)"));

        await using var other = CreateWorkerContext();
        Assert.That(await other.TryAcquireLockAsync(new PlainCounter { Id = 5 }), Is.Null, "same type and key: the same lock");
        Assert.That(await other.TryAcquireLockAsync(new Bin { Aisle = 1, Slot = 2 }), Is.Null);
        await using var otherType = await other.TryAcquireLockAsync(new FencedResource { Id = 5 });
        Assert.That(otherType, Is.Not.Null, "another type with the same key is another lock");
        await using var otherSlot = await other.TryAcquireLockAsync(new Bin { Aisle = 1, Slot = 3 });
        Assert.That(otherSlot, Is.Not.Null);
    }

    [Test]
    public async Task An_entity_lock_reloads_a_tracked_entity_unless_told_not_to([Values] bool reload)
    {
        await using (var setup = CreateWorkerContext())
        {
            await setup.FencedResources.Where(r => r.Id == 7).ExecuteDeleteAsync();
            setup.FencedResources.Add(new FencedResource { Id = 7, Value = "read" });
            await setup.SaveChangesAsync();
        }

        await using var context = CreateWorkerContext();
        var resource = await context.FencedResources.SingleAsync(r => r.Id == 7);
        await using (var previous = CreateWorkerContext())
        {
            await previous.FencedResources.Where(r => r.Id == 7).ExecuteUpdateAsync(s => s.SetProperty(r => r.Value, "written by the previous holder"));
        }

        await using var handle = await context.AcquireLockAsync(resource, by: r => r.Value, timeout: HangGuard, reload: reload);
        Assert.That(handle.Name, Is.EqualTo("entity:Concurrency.NamedLockWorker.FencedResource(Value=\"read\")"));
        Assert.That(resource.Value, Is.EqualTo(reload ? "written by the previous holder" : "read"));
        Assert.That(context.Entry(resource).State, Is.EqualTo(EntityState.Unchanged));
    }

    [Test]
    public async Task Bad_input_is_refused_with_clear_errors()
    {
        await using var context = CreateWorkerContext();
        await Assert.ThrowsAsync<ArgumentNullException>(() => context.Database.AcquireLockAsync(null!));
        var empty = await Assert.ThrowsAsync<ArgumentException>(() => context.Database.AcquireLockAsync(""));
        Assert.That(empty!.Message, Does.Contain("must not be empty"));
        var negative = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.Database.AcquireLockAsync("x", TimeSpan.FromSeconds(-1)));
        Assert.That(negative!.Message, Does.Contain("between zero and"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.Database.TryAcquireLockAsync("x", TimeSpan.FromDays(30)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.Database.AcquireTransactionLockAsync("x", TimeSpan.MaxValue));
        await using var infinite = await context.Database.AcquireLockAsync(UniqueName(), Timeout.InfiniteTimeSpan); // .NET's "wait forever" is accepted
        await using var longest = await context.Database.AcquireLockAsync(UniqueName(), NamedLockRunner.MaxTimeout);

        var builder = Database.Configure(new DbContextOptionsBuilder<WorkerContext>()); // no UseConcurrency()
        await using var plain = new WorkerContext(builder.Options);
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => plain.Database.AcquireLockAsync("x"));
        Assert.That(missing!.Message, Does.Contain("UseConcurrency()"));
    }

    [Test]
    public async Task An_in_memory_SQLite_database_gets_an_in_process_lock()
    {
        if (IsPostgres)
        {
            Assert.Ignore("SQLite only: PostgreSQL has no in-memory databases.");
        }

        await using var keepAlive = new SqliteConnection("Data Source=named-locks-memory;Mode=Memory;Cache=Shared");
        await keepAlive.OpenAsync();
        WorkerContext Create() => new(new DbContextOptionsBuilder<WorkerContext>().UseSqlite(keepAlive.ConnectionString).UseConcurrency().Options);
        await using var first = Create();
        await using var second = Create();
        await using var handle = await first.Database.AcquireLockAsync("memory");
        Assert.That(await second.Database.TryAcquireLockAsync("memory"), Is.Null);
        await handle.DisposeAsync();
        await using var next = await second.Database.AcquireLockAsync("memory", HangGuard);
        Assert.That(next.FencingToken, Is.GreaterThan(handle.FencingToken));
    }
}
