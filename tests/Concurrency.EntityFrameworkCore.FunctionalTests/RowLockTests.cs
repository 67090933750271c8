using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Concurrency.TestSupport;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     ForUpdate() and its siblings against real databases, with real parallel connections: what is locked, what waits,
///     what fails, and what is refused. SQLite has no row locks: there the transaction's write lock is the lock.
/// </summary>
public sealed class RowLockTests(Provider provider) : RowLockTestBase(provider)
{
    [Test]
    public void ToQueryString_shows_the_lock_and_needs_no_transaction()
    {
        using var context = CreateRowLockContext();
        var sql = context.Warehouses.Where(w => w.Name == "x").ForUpdate(RowLockWait.SkipLocked).ToQueryString();

        if (IsPostgres)
        {
            Assert.That(sql, Does.EndWith("FOR UPDATE OF w SKIP LOCKED"));
            Assert.That(sql, Does.Contain("-- concurrency:row-locked:Update:SkipLocked:0:Warehouse"));
        }
        else
        {
            Assert.That(sql, Does.Contain("-- concurrency:row-lock:Update:SkipLocked:0:Warehouse"));
            Assert.That(sql, Does.Not.Contain("FOR UPDATE"));
        }
    }

    [Test]
    public void Each_strength_renders_its_clause()
    {
        using var context = CreateRowLockContext();
        var q = context.Warehouses.Where(w => w.Id > 0);
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite has no lock clauses.");
        }

        Assert.That(q.ForUpdate().ToQueryString(), Does.EndWith("FOR UPDATE OF w"));
        Assert.That(q.ForNoKeyUpdate(RowLockWait.NoWait).ToQueryString(), Does.EndWith("FOR NO KEY UPDATE OF w NOWAIT"));
        Assert.That(q.ForShare().ToQueryString(), Does.EndWith("FOR SHARE OF w"));
        Assert.That(q.ForKeyShare().ToQueryString(), Does.EndWith("FOR KEY SHARE OF w"));
    }

    [Test]
    public void Arguments_are_validated_when_the_operator_is_called()
    {
        using var context = CreateRowLockContext();
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Warehouses.ForUpdate(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Warehouses.ForUpdate(TimeSpan.FromDays(30)));
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Warehouses.ForUpdate((RowLockWait)42));
        var twice = Assert.Throws<InvalidOperationException>(() => context.Warehouses.ForUpdate().Where(w => w.Id > 0).ForShare());
        Assert.That(twice!.Message, Does.Contain("ForUpdate()").And.Contain("ForShare()").And.Contain("Warehouse"));
        Assert.DoesNotThrow(() => context.Warehouses.ForUpdate().ForUpdate().ToQueryString(), "the same lock twice is one lock");
    }

    // One per fixture: a compiled query serves one model, and each provider's fixture has its own.
    private readonly Func<RowLockContext, int, Task<Warehouse?>> _compiledNoWaitAsync = EF.CompileAsyncQuery(
        (RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForUpdate(RowLockWait.NoWait).FirstOrDefault());

    private readonly Func<RowLockContext, int, Warehouse?> _compiledNoWait = EF.CompileQuery(
        (RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForUpdate(RowLockWait.NoWait).FirstOrDefault());

    private readonly Func<RowLockContext, int, Task<Warehouse?>> _compiledTimeoutAsync = EF.CompileAsyncQuery(
        (RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForShare(TimeSpan.FromSeconds(5)).FirstOrDefault());

    [Test]
    public async Task A_compiled_query_takes_its_row_lock([Values] bool async)
    {
        var warehouse = await AddWarehouse("compiled");
        await using var context = CreateRowLockContext();
        var outside = await Throws<InvalidOperationException>(() => Compiled(context, warehouse.Id));
        Assert.That(outside.Message, Does.Contain("BeginTransaction").And.Contain("Warehouse"));

        await using var transaction = await Begin(context, async);
        Assert.That((await Compiled(context, warehouse.Id))!.Name, Is.EqualTo("compiled"));
        Assert.That((await _compiledTimeoutAsync(context, warehouse.Id))!.Name, Is.EqualTo("compiled"));
        if (!IsPostgres)
        {
            return; // SQLite: the transaction's write lock is the lock (the SQLite tests show it)
        }

        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True);
        await using var other = await OpenSession(async);
        var error = await Throws<RowLockNotAvailableException>(() => Compiled(other.Context, warehouse.Id));
        Assert.That(error.Message, Does.Contain("Warehouse").And.Contain("NoWait"));

        Task<Warehouse?> Compiled(RowLockContext c, int id)
            => async ? _compiledNoWaitAsync(c, id) : Task.FromResult(_compiledNoWait(c, id));
    }

    [Test]
    public void A_compiled_query_whose_lock_is_one_of_its_parameters_is_refused_naming_the_fix()
    {
        var compiled = EF.CompileQuery(
            (RowLockContext c, int id, TimeSpan timeout) => c.Warehouses.Where(w => w.Id == id).ForUpdate(timeout).FirstOrDefault());
        using var context = CreateRowLockContext();
        using var transaction = context.Database.BeginTransaction();
        var error = Assert.Throws<InvalidOperationException>(() => compiled(context, 1, TimeSpan.FromSeconds(1)));
        Assert.That(error!.Message, Does.Contain("Warehouse").And.Contain("constant").And.Contain("ForUpdate"));
    }

    [Test]
    public async Task The_same_query_with_another_lock_or_none_is_never_served_from_the_other_ones_cache([Values] bool async)
    {
        var warehouse = await AddWarehouse("cache");
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await Begin(context, async);
        var id = warehouse.Id;
        for (var round = 0; round < 2; round++)
        {
            foreach (var query in new[]
                     {
                         context.Warehouses.Where(w => w.Id == id),
                         context.Warehouses.Where(w => w.Id == id).ForUpdate(),
                         context.Warehouses.Where(w => w.Id == id).ForShare(),
                         context.Warehouses.Where(w => w.Id == id).ForUpdate(RowLockWait.NoWait),
                         context.Warehouses.Where(w => w.Id == id).ForUpdate(TimeSpan.FromSeconds(3)),
                     })
            {
                _ = async ? await query.AsNoTracking().SingleAsync() : query.AsNoTracking().Single();
            }
        }

        var texts = commands.Executed.Select(c => c.Sql).Where(t => t.Contains("SELECT", StringComparison.Ordinal)).ToList();
        var expected = new[] { null, "Update:Block:0:", "Share:Block:0:", "Update:NoWait:0:", "Update:Block:3000:" };
        Assert.That(
            texts.Select(t => expected.Skip(1).FirstOrDefault(e => t.Contains(":" + e + "Warehouse", StringComparison.Ordinal))),
            Is.EqualTo(expected.Concat(expected)));
        if (IsPostgres)
        {
            Assert.That(texts.Where((_, i) => i % 5 == 0), Has.None.Contain("FOR "));
            Assert.That(texts.Where((_, i) => i % 5 == 2), Has.All.Contain("FOR SHARE OF w"));
        }
    }

    [Test]
    public void A_lock_inside_a_subquery_fails_when_the_query_is_translated()
    {
        using var context = CreateRowLockContext();
        var query = context.Warehouses.Where(w => context.Shelves.ForShare().Any(s => s.WarehouseId == w.Id)).ForUpdate();
        var error = Assert.Throws<InvalidOperationException>(() => query.ToQueryString());
        Assert.That(error!.Message, Does.Contain("'Shelf'").And.Contain("subquery").And.Contain("ForShare()"));
    }

    [Test]
    public async Task Without_UseConcurrency_a_locking_query_fails_instead_of_running_unlocked([Values] bool async)
    {
        var warehouse = await AddWarehouse("no-library");
        await using var context = new RowLockContext(Database.Configure(new DbContextOptionsBuilder<RowLockContext>()).Options);
        await using var transaction = await Begin(context, async);
        var error = await Throws<InvalidOperationException>(() => LoadForUpdate(context, warehouse.Id, async));
        Assert.That(error.Message, Does.Contain("RowLockQueryRootExpression<Warehouse>"), "EF's message; docs/row-locks.md names the fix");
    }

    [Test]
    public async Task A_locking_query_outside_a_transaction_is_refused([Values] bool async)
    {
        var warehouse = await AddWarehouse("outside");
        await using var context = CreateRowLockContext();
        var error = await Throws<InvalidOperationException>(() => LoadForUpdate(context, warehouse.Id, async));
        Assert.That(error.Message, Does.Contain("BeginTransaction").And.Contain("Warehouse"));
    }

    [Test]
    public async Task Without_UseRowLocks_a_locking_query_on_PostgreSQL_fails_naming_the_call([Values] bool async)
    {
        var warehouse = await AddWarehouse("unregistered");
        await using var context = CreateRowLockContext(renderLocks: false);
        await using var transaction = await Begin(context, async);
        if (!IsPostgres)
        {
            Assert.That((await LoadForUpdate(context, warehouse.Id, async))!.Name, Is.EqualTo("unregistered"), "SQLite needs no rendering");
            return;
        }

        var error = await Throws<InvalidOperationException>(() => LoadForUpdate(context, warehouse.Id, async));
        Assert.That(error.Message, Does.Contain("UseRowLocks()").And.Contain("Warehouse"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Block_waits_until_the_holder_commits_and_then_reads_its_change([Values] bool async)
    {
        var warehouse = await AddWarehouse("block");
        await using var holder = CreateRowLockContext();
        var holderTransaction = await Begin(holder, async);
        var held = (await LoadForUpdate(holder, warehouse.Id, async))!;
        held.Stock = 7;
        await holder.SaveChangesAsync();

        var waiter = Task.Run(async () =>
        {
            await using var context = CreateRowLockContext();
            await using var transaction = await Begin(context, async);   // SQLite: BEGIN IMMEDIATE waits here
            var row = (await LoadForUpdate(context, warehouse.Id, async))!;
            row.Stock++;
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
            return row.Stock;
        });

        if (IsPostgres)
        {
            await WaitUntilSomeoneWaitsForALock();
        }

        Assert.That(waiter.IsCompleted, Is.False, "the second transaction waits for the first");
        await holderTransaction.CommitAsync();
        await holderTransaction.DisposeAsync();

        Assert.That(await waiter, Is.EqualTo(8), "the waiter read the holder's committed change: no lost update");
        await using var check = CreateRowLockContext();
        Assert.That((await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock, Is.EqualTo(8));
    }

    [Test]
    public async Task NoWait_throws_RowLockNotAvailableException_when_another_transaction_holds_the_row([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite: the transaction's BEGIN IMMEDIATE takes the lock, see docs/row-locks.md.");
        }

        var warehouse = await AddWarehouse("nowait");
        await using var holder = await Hold(warehouse.Id, async);
        await using var other = await OpenSession(async);
        var error = await Throws<RowLockNotAvailableException>(() => LoadForUpdate(other.Context, warehouse.Id, async, RowLockWait.NoWait));
        Assert.That(error.Message, Does.Contain("Warehouse").And.Contain("NoWait"));
        Assert.That(error.SqlState, Is.EqualTo("55P03"));
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(error), Is.True);
    }

    [Test]
    public async Task SkipLocked_leaves_out_the_rows_another_transaction_holds([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite: a second writer cannot begin while the first holds the write lock, so nothing is ever skipped.");
        }

        var first = await AddWarehouse("skip-1");
        var second = await AddWarehouse("skip-2");
        await using var holder = await Hold(first.Id, async);
        await using var other = await OpenSession(async);
        var query = other.Context.Warehouses.Where(w => w.Id == first.Id || w.Id == second.Id).OrderBy(w => w.Id).ForUpdate(RowLockWait.SkipLocked);
        var rows = async ? await query.ToListAsync() : query.ToList();
        Assert.That(rows.Select(r => r.Id), Is.EqualTo(new[] { second.Id }));
    }

    [Test]
    public async Task A_row_read_ForUpdate_and_saved_in_the_transaction_never_conflicts_and_its_version_goes_up([Values] bool async)
    {
        var warehouse = await AddWarehouse("versioned");
        await using var context = CreateRowLockContext();
        await using var transaction = await Begin(context, async);
        var row = (await LoadForUpdate(context, warehouse.Id, async))!;
        row.Stock = 3;
        await Save(context, async);
        await transaction.CommitAsync();

        await using var check = CreateRowLockContext();
        var stored = await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id);
        Assert.That((stored.Stock, stored.Version), Is.EqualTo((3, warehouse.Version + 1)));
    }

    [Test]
    public async Task Retry_accepts_both_lock_exceptions()
    {
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(new RowLockNotAvailableException("x", null)), Is.True);
        Assert.That(ConcurrencyRetryExtensions.IsRetryable(new DeadlockDetectedException("x", null)), Is.True);

        await using var context = CreateRowLockContext();
        var attempts = 0;
        await context.RetryOnConflictAsync(_ => ++attempts == 1 ? throw new RowLockNotAvailableException("busy", null) : Task.CompletedTask);
        Assert.That(attempts, Is.EqualTo(2));
    }

    [Test]
    public void UseRowLocks_needs_Npgsql_before_it_and_UseConcurrency()
    {
        var withoutConcurrency = Database.Configure(new DbContextOptionsBuilder<RowLockContext>()).UseRowLocks();
        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            using var context = new RowLockContext(withoutConcurrency.Options);
            _ = context.Model;
        });
        Assert.That(error!.Message, Does.Contain(IsPostgres ? "UseConcurrency()" : "needs the Npgsql provider"));
    }

    [Test]
    public async Task A_locking_query_by_key_is_one_command([Values] bool async)
    {
        var warehouse = await AddWarehouse("one-command");
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await Begin(context, async);
        commands.Reset();
        await LoadForUpdate(context, warehouse.Id, async);
        Assert.That(commands.Commands, Is.EqualTo(1), "no extra round trip");
    }
}
