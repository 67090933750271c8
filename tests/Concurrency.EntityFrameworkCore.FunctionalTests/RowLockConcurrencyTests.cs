using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>Row locks under real contention: timeouts, a SKIP LOCKED work queue, lock strengths against foreign keys, cancellation.</summary>
public sealed class RowLockConcurrencyTests(Provider provider) : RowLockTestBase(provider)
{
    [Test]
    [CancelAfter(60_000)]
    public async Task A_timeout_throws_after_waiting_and_PostgreSQL_aborts_the_transaction([Values] bool async)
    {
        var warehouse = await AddWarehouse("timeout");
        if (!IsPostgres)
        {
            // SQLite: the transaction holds the write lock, so a timed lock query in it never waits.
            await using var only = CreateRowLockContext();
            await using var tx = await Begin(only, async);
            Assert.That(await only.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate(TimeSpan.FromMilliseconds(200)).CountAsync(), Is.EqualTo(1));
            return;
        }

        await using var holder = await Hold(warehouse.Id, async);
        await using var other = await OpenSession(async);
        var query = other.Context.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate(timeout: TimeSpan.FromMilliseconds(300));
        var error = await Throws<RowLockNotAvailableException>(() => async ? query.SingleAsync() : Task.FromResult(query.Single()));
        Assert.That(error.Message, Does.Contain("Warehouse").And.Contain("300 ms"));

        // Documented: the failed statement aborted the transaction (PostgreSQL 25P02) until it is rolled back.
        var aborted = Assert.Throws<Npgsql.PostgresException>(() => other.Context.Warehouses.Count());
        Assert.That(aborted!.SqlState, Is.EqualTo("25P02"));
        await other.Transaction.RollbackAsync();
        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True, "the holder still holds its lock");
    }

    [Test]
    public async Task A_timeout_applies_to_its_statement_only_and_the_previous_lock_timeout_is_restored([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite has no lock_timeout.");
        }

        var warehouse = await AddWarehouse("restore");
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await Begin(context, async);
        context.Database.ExecuteSqlRaw("SET LOCAL lock_timeout = '5s'");
        commands.Reset();
        var query = context.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate(timeout: TimeSpan.FromSeconds(2));
        var row = async ? await query.SingleAsync() : query.Single();
        Assert.That(row.Name, Is.EqualTo("restore"), "EF read the SELECT's rows from the multi-statement command");
        Assert.That(commands.Commands, Is.EqualTo(1), "the timeout costs no extra command");
        Assert.That(context.Database.SqlQueryRaw<string>("SELECT current_setting('lock_timeout') AS \"Value\"").Single(), Is.EqualTo("5s"));
        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True);
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Eight_workers_drain_a_SKIP_LOCKED_queue_processing_every_job_exactly_once(CancellationToken cancellationToken)
    {
        const int jobs = 200;
        await using (var seed = CreateRowLockContext())
        {
            await seed.Jobs.ExecuteDeleteAsync(cancellationToken);
            seed.Jobs.AddRange(Enumerable.Range(0, jobs).Select(_ => new Job()));
            await seed.SaveChangesAsync(cancellationToken);
        }

        var processed = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var done = 0;
            for (var round = 0; round < 1_000; round++)
            {
                await using var context = CreateRowLockContext();
                await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken);
                var claimed = await context.Jobs.Where(j => j.Status == "queued").OrderBy(j => j.Id)
                    .ForUpdate(RowLockWait.SkipLocked).Take(10).ToListAsync(cancellationToken);
                if (claimed.Count == 0)
                {
                    break;
                }

                foreach (var job in claimed)
                {
                    job.Runs++;
                    job.Status = "done";
                }

                await context.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                done += claimed.Count;
            }

            return done;
        }, cancellationToken)));

        await using var check = CreateRowLockContext();
        var all = await check.Jobs.ToListAsync(cancellationToken);
        Assert.That(all, Has.Count.EqualTo(jobs));
        Assert.That(all.Select(j => (j.Status, j.Runs)), Has.All.EqualTo(("done", 1)), "every job processed exactly once");
        Assert.That(processed.Sum(), Is.EqualTo(jobs));
    }

    [Test]
    public async Task ForNoKeyUpdate_lets_another_transaction_insert_a_child_and_ForUpdate_blocks_it([Values] bool noKey)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite has no lock strengths; the transaction's write lock blocks every other writer.");
        }

        var warehouse = await AddWarehouse("fk-" + noKey);
        await using var holder = CreateRowLockContext();
        await using var transaction = await holder.Database.BeginTransactionAsync();
        var query = holder.Warehouses.Where(w => w.Id == warehouse.Id);
        await (noKey ? query.ForNoKeyUpdate() : query.ForUpdate()).SingleAsync();

        var insert = $"SET lock_timeout = '500ms'; INSERT INTO \"Shelves\" (\"WarehouseId\", \"Label\") VALUES ({warehouse.Id}, 'new')";
        if (noKey)
        {
            Assert.That(ExecuteRaw(insert), Is.EqualTo(1), "the child row was inserted while the parent is locked FOR NO KEY UPDATE");
        }
        else
        {
            var blocked = Assert.Throws<Npgsql.PostgresException>(() => ExecuteRaw(insert));
            Assert.That(blocked!.SqlState, Is.EqualTo("55P03"), "the foreign key check waits for the FOR UPDATE lock");
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Cancelling_a_blocked_query_leaves_the_holder_untouched_and_nothing_of_ours_locked()
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: on SQLite the wait happens in BEGIN IMMEDIATE, not in the query.");
        }

        var warehouse = await AddWarehouse("cancel");
        await using var holder = CreateRowLockContext();
        var holderTransaction = await holder.Database.BeginTransactionAsync();
        await LoadForUpdate(holder, warehouse.Id, async: true);

        using var cancellation = new CancellationTokenSource();
        var waiter = Task.Run(async () =>
        {
            await using var context = CreateRowLockContext();
            await using var transaction = await context.Database.BeginTransactionAsync();
            await context.Warehouses.Where(w => w.Id == warehouse.Id || w.Id == -1).ForUpdate().ToListAsync(cancellation.Token);
        });
        await WaitUntilSomeoneWaitsForALock();
        await cancellation.CancelAsync();
        Assert.That(async () => await waiter, NUnit.Framework.Throws.InstanceOf<OperationCanceledException>());

        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True, "the holder keeps its lock");
        holder.Warehouses.Local.Single().Stock = 5;
        await holder.SaveChangesAsync();
        await holderTransaction.CommitAsync();
        await holderTransaction.DisposeAsync();
        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.False, "nothing is left locked");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Two_transactions_locking_in_opposite_orders_end_with_one_DeadlockDetectedException()
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite: one writer at a time, no deadlock between row locks.");
        }

        var first = await AddWarehouse("deadlock-1");
        var second = await AddWarehouse("deadlock-2");
        await using var a = await Hold(first.Id, async: true);
        await using var b = await Hold(second.Id, async: true);

        var aWaits = Task.Run(() => LoadForUpdate(a.Context, second.Id, async: true));
        await WaitUntilSomeoneWaitsForALock();
        var bWaits = Task.Run(() => LoadForUpdate(b.Context, first.Id, async: true));
        var outcomes = await Task.WhenAll(Outcome(aWaits, a.Transaction), Outcome(bWaits, b.Transaction));
        Assert.That(outcomes.Count(o => o is DeadlockDetectedException), Is.EqualTo(1), string.Join(", ", outcomes.Select(o => o?.GetType().Name ?? "locked")));
        Assert.That(outcomes.Count(o => o is null), Is.EqualTo(1), "the other transaction got its lock");
        var deadlock = (DeadlockDetectedException)outcomes.Single(o => o is not null)!;
        Assert.That(deadlock.Message, Does.Contain("Warehouse"));
        Assert.That(deadlock.SqlState, Is.EqualTo("40P01"));
    }

    [Test]
    public async Task A_lock_error_raised_while_the_rows_are_read_is_translated_too([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite takes its one write lock before the query, never row by row.");
        }

        // PostgreSQL locks rows as the scan returns them: the first row is locked and sent, the second is held by another
        // transaction, so NOWAIT fails on it after the query started (Read throws, not ExecuteReader).
        var first = await AddWarehouse("later-1");
        var second = await AddWarehouse("later-2");
        await using var holder = await Hold(second.Id, async);
        var failures = new CommandFailureRecorder();
        var context = CreateRowLockContext(interceptors: failures);
        await using var other = new Session(context, await Begin(context, async));
        var query = other.Context.Warehouses.Where(w => w.Id == first.Id || w.Id == second.Id).OrderBy(w => w.Id).ForUpdate(RowLockWait.NoWait);
        var error = await Throws<RowLockNotAvailableException>(() => async ? query.ToListAsync() : Task.FromResult(query.ToList()));
        Assert.That(error.SqlState, Is.EqualTo("55P03"));
        Assert.That(error.Message, Does.Contain("Warehouse").And.Contain("NoWait"));
        Assert.That(failures.Failed, Is.Zero, "the command itself started: the error came while reading its rows");
    }

    /// <summary>Counts EF's CommandFailed events: an error while reading rows raises none.</summary>
    private sealed class CommandFailureRecorder : Microsoft.EntityFrameworkCore.Diagnostics.DbCommandInterceptor
    {
        public int Failed { get; private set; }

        public override void CommandFailed(DbCommand command, Microsoft.EntityFrameworkCore.Diagnostics.CommandErrorEventData eventData)
            => Failed++;

        public override Task CommandFailedAsync(DbCommand command, Microsoft.EntityFrameworkCore.Diagnostics.CommandErrorEventData eventData, CancellationToken cancellationToken = default)
        {
            Failed++;
            return Task.CompletedTask;
        }
    }

    /// <summary>Null when the query got its lock; else its exception, after rolling its transaction back so the other can proceed.</summary>
    private static async Task<Exception?> Outcome(Task query, Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction transaction)
    {
        try
        {
            await query;
            return null;
        }
        catch (Exception e)
        {
            await transaction.RollbackAsync();
            return e;
        }
    }
}
