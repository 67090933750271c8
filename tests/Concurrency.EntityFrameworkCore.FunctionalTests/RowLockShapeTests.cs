using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     Every query shape EF generates takes a valid lock on the root rows only (PostgreSQL), or runs in the write-locked
///     transaction (SQLite); shapes PostgreSQL cannot lock are refused at translation with the reason.
/// </summary>
public sealed class RowLockShapeTests(Provider provider) : RowLockTestBase(provider)
{
    public enum Shape
    {
        IncludeNullableReference,
        IncludeCollection,
        IncludeReferenceAndCollection,
        OrderBySkipTake,
        Projection,
        SplitQuery,
    }

    private static object? Run(RowLockContext context, Shape shape, int id)
    {
        var root = context.Warehouses.Where(w => w.Id == id);
        return shape switch
        {
            Shape.IncludeNullableReference => root.Include(w => w.Manager).ForUpdate().ToList(),
            Shape.IncludeCollection => root.Include(w => w.Shelves).ForUpdate().FirstOrDefault(),
            Shape.IncludeReferenceAndCollection => root.Include(w => w.Manager).Include(w => w.Shelves).ForUpdate().FirstOrDefault(),
            Shape.OrderBySkipTake => context.Warehouses.Where(w => w.Id >= id).OrderBy(w => w.Id).Skip(0).Take(1).ForUpdate().ToList(),
            Shape.Projection => root.Select(w => new { w.Id, w.Name, Manager = w.Manager!.Name, Shelves = w.Shelves.Count }).ForUpdate().ToList(),
            _ => root.Include(w => w.Shelves).AsSplitQuery().ForUpdate().ToList(),
        };
    }

    [Test]
    public async Task The_shape_runs_and_locks_the_root_row_only([Values] Shape shape)
    {
        var warehouse = await AddWarehouse("shape-" + shape, withManager: true, shelves: 2);
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await context.Database.BeginTransactionAsync();
        Assert.That(Run(context, shape, warehouse.Id), Is.Not.Null);
        if (!IsPostgres)
        {
            return;
        }

        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True, "the root row is locked");
        var shelf = warehouse.Shelves[0].Id;
        Assert.That(RowIsLocked("Shelves", shelf), Is.False, "the collection's rows are not");
        Assert.That(RowIsLocked("Managers", warehouse.ManagerId!.Value), Is.False, "the reference's row is not");
        var locking = commands.Executed.Where(c => c.Sql.Contains("FOR UPDATE", StringComparison.Ordinal)).ToList();
        Assert.That(locking.Select(c => c.Sql), Has.All.Match(@"FOR UPDATE OF w\s*(\)|$)"), "every lock names the root alias only");
        Assert.That(locking, Has.Count.EqualTo(1), commands.Sql);
        Assert.That(locking[0].Sql, Is.EqualTo(commands.Executed[0].Sql), "the query's first command takes the lock");
        if (shape == Shape.SplitQuery)
        {
            Assert.That(commands.Executed, Has.Count.EqualTo(2), "a split query: the root and its dependents' command");
            Assert.That(commands.Executed[1].Sql, Does.Contain("-- concurrency:row-lock-split:Update:Block:0:Warehouse"), "the dependent says why it has no clause");
        }

        await transaction.CommitAsync();
        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.False, "commit releases the lock");
    }

    [Test]
    public async Task A_split_querys_dependent_commands_lock_no_child_row_while_the_root_is_held([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite has no row locks; every command of a split query runs in the transaction's write lock.");
        }

        var warehouse = await AddWarehouse("split-child", shelves: 2);
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await Begin(context, async);
        commands.Reset();
        var query = context.Warehouses.Where(w => w.Id == warehouse.Id).Include(w => w.Shelves).AsSplitQuery().ForUpdate();
        var loaded = async ? await query.SingleAsync() : query.Single();
        Assert.That(loaded.Shelves, Has.Count.EqualTo(2));

        var sql = commands.Executed.Select(c => c.Sql).ToList();
        Assert.That(sql, Has.Count.EqualTo(2), "the root's command and the collection's");
        Assert.That(sql[0], Does.Match(@"FOR UPDATE OF w\s*$"), "only the root's command locks");
        Assert.That(sql[1], Does.Not.Contain("FOR ").And.Contain("-- concurrency:row-lock-split:Update:Block:0:Warehouse"));

        // Another transaction locks a child row without waiting and changes it, while this one holds the root.
        var shelf = warehouse.Shelves[0].Id;
        ExecuteRaw($"BEGIN; SELECT 1 FROM \"Shelves\" WHERE \"Id\" = {shelf} FOR UPDATE NOWAIT; UPDATE \"Shelves\" SET \"Label\" = 'moved' WHERE \"Id\" = {shelf}; COMMIT");
        Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True, "the root row stays locked");
        await using var check = CreateRowLockContext();
        Assert.That((await check.Shelves.SingleAsync(s => s.Id == shelf)).Label, Is.EqualTo("moved"));
    }

    [Test]
    public void Include_of_a_collection_locks_inside_EFs_subquery()
    {
        using var context = CreateRowLockContext();
        var sql = context.Warehouses.Include(w => w.Manager).Include(w => w.Shelves).ForUpdate().Take(2).ToQueryString();
        if (IsPostgres)
        {
            Assert.That(sql, Does.Match(@"LIMIT @\w+\s+FOR UPDATE OF w\s+\) AS"), sql);
        }
    }

    [Test]
    public async Task Shapes_PostgreSQL_cannot_lock_are_refused_with_the_reason()
    {
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var q = context.Warehouses.ForUpdate();
        if (!IsPostgres)
        {
            Assert.That(await q.Select(w => w.Name).Distinct().ToListAsync(), Is.Not.Null, "SQLite: the write lock covers any shape");
            return;
        }

        Assert.That(Refused(() => q.Select(w => w.Name).Distinct().ToList()), Does.Contain("Distinct"));
        Assert.That(Refused(() => q.GroupBy(w => w.Name).Select(g => g.Key).ToList()), Does.Contain("GroupBy"));
        Assert.That(Refused(() => q.Count()), Does.Contain("aggregate"));
        Assert.That(Refused(() => q.Any()), Does.Contain("Any()"));
        Assert.That(Refused(() => q.Select(w => w.Id).Union(context.Shelves.Select(s => s.Id)).ToList()), Does.Contain("Union"));
        Assert.That(Refused(() => context.Warehouses.FromSqlRaw("SELECT * FROM \"Warehouses\"").ForUpdate().ToList()), Does.Contain("FromSql"));
    }

    [Test]
    public async Task A_composed_FromSql_query_locks_the_rows_of_its_SQL()
    {
        var warehouse = await AddWarehouse("fromsql");
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var rows = await context.Warehouses.FromSqlRaw("SELECT * FROM \"Warehouses\"").Where(w => w.Id == warehouse.Id).ForUpdate().ToListAsync();
        Assert.That(rows, Has.Count.EqualTo(1));
        Assert.That(!IsPostgres || RowIsLocked("Warehouses", warehouse.Id), Is.True);
    }

    [Test]
    public void ToQueryString_of_a_timeout_shows_the_whole_command()
    {
        using var context = CreateRowLockContext();
        var sql = context.Warehouses.Where(w => w.Id == 1).ForShare(timeout: TimeSpan.FromMilliseconds(1500)).ToQueryString();
        if (IsPostgres)
        {
            Assert.That(sql, Does.StartWith(
                "DO $$BEGIN PERFORM set_config('concurrency.saved_lock_timeout', current_setting('lock_timeout'), true);"
                + " PERFORM set_config('lock_timeout', '1500ms', true); END$$;"));
            Assert.That(sql, Does.Contain("FOR SHARE OF w;"));
            Assert.That(sql, Does.EndWith("SELECT set_config('lock_timeout', current_setting('concurrency.saved_lock_timeout'), true)"));
        }
    }

    private static string Refused(Action query)
    {
        var error = Assert.Throws<InvalidOperationException>(() => query());
        Assert.That(error!.Message, Does.Contain("cannot take a row lock"));
        return error.Message;
    }
}
