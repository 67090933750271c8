using System.Text.RegularExpressions;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Concurrency.TestSupport;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     A hostile user of the row-lock operators: query shapes after the lock, the query cache under alternating and parallel
///     locks, compiled queries, and pooled contexts. Every test checks the SQL actually sent or the rows actually locked.
/// </summary>
public sealed partial class RowLockAttackTests(Provider provider) : RowLockTestBase(provider)
{
    public enum Shape
    {
        DbSetThenWhere,
        AsNoTracking,
        AsNoTrackingWithIdentityResolution,
        IgnoreQueryFilters,
        SelectAnonymous,
        SelectEntityAndName,
        OfType,
        JoinShelves,
        SelectManyShelves,
        ContainsParameterList,
        SkipTake,
        First,
        Single,
        Last,
        ThenWhereOrderBy,
        IncludeThenAsSplitQuery,
        AsAsyncEnumerable,
    }

    [GeneratedRegex(@"concurrency:row-lock(?:ed)?:(\w+):(\w+):(\d+):(\w+)")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"FOR (UPDATE|NO KEY UPDATE|SHARE|KEY SHARE) OF \w+( NOWAIT| SKIP LOCKED)?")]
    private static partial Regex ClausePattern();

    private static async Task<int> RunShape(RowLockContext context, Shape shape, int id)
    {
        var ids = new List<int> { id, -1 };
        var root = context.Warehouses.Where(w => w.Id == id);
        switch (shape)
        {
            case Shape.DbSetThenWhere:
                return (await context.Warehouses.ForUpdate().Where(w => w.Id == id).ToListAsync()).Single().Id;
            case Shape.AsNoTracking:
                return (await root.ForUpdate().AsNoTracking().SingleAsync()).Id;
            case Shape.AsNoTrackingWithIdentityResolution:
                return (await root.AsNoTrackingWithIdentityResolution().ForUpdate().SingleAsync()).Id;
            case Shape.IgnoreQueryFilters:
                return (await root.ForUpdate().IgnoreQueryFilters().SingleAsync()).Id;
            case Shape.SelectAnonymous:
                return (await root.ForUpdate().Select(w => new { w.Id, w.Name }).SingleAsync()).Id;
            case Shape.SelectEntityAndName:
                return (await root.ForUpdate().Select(w => new { w, w.Name }).SingleAsync()).w.Id;
            case Shape.OfType:
                return (await root.ForUpdate().OfType<Warehouse>().SingleAsync()).Id;
            case Shape.JoinShelves:
                return (await root.ForUpdate().Join(context.Shelves, w => w.Id, s => s.WarehouseId, (w, s) => new { w.Id, s.Label }).FirstAsync()).Id;
            case Shape.SelectManyShelves:
                return (await root.ForUpdate().SelectMany(w => w.Shelves, (w, s) => new { w.Id, s.Label }).FirstAsync()).Id;
            case Shape.ContainsParameterList:
                return (await context.Warehouses.Where(w => ids.Contains(w.Id)).ForUpdate().SingleAsync()).Id;
            case Shape.SkipTake:
                return (await root.OrderBy(w => w.Id).ForUpdate().Skip(0).Take(1).SingleAsync()).Id;
            case Shape.First:
                return (await root.ForUpdate().FirstAsync()).Id;
            case Shape.Single:
                return root.ForUpdate().Single().Id;
            case Shape.Last:
                return (await root.OrderBy(w => w.Id).ForUpdate().LastAsync()).Id;
            case Shape.ThenWhereOrderBy:
                return (await root.ForUpdate().Where(w => w.Name != "").OrderBy(w => w.Name).FirstAsync()).Id;
            case Shape.IncludeThenAsSplitQuery:
                return (await root.ForUpdate().Include(w => w.Shelves).AsSplitQuery().SingleAsync()).Id;
            default:
                var found = -1;
                await foreach (var w in root.ForUpdate().AsAsyncEnumerable())
                {
                    found = w.Id;
                }

                return found;
        }
    }

    [Test]
    public async Task Every_shape_after_the_lock_returns_the_row_and_locks_it([Values] Shape shape)
    {
        var warehouse = await AddWarehouse("attack-" + shape, withManager: true, shelves: 2);
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await context.Database.BeginTransactionAsync();
        commands.Reset();
        Assert.That(await RunShape(context, shape, warehouse.Id), Is.EqualTo(warehouse.Id));
        Assert.That(commands.Sql, Does.Contain(":Update:Block:0:Warehouse"), "the lock request reached the command");
        if (IsPostgres)
        {
            Assert.That(RowIsLocked("Warehouses", warehouse.Id), Is.True, commands.Sql);
            Assert.That(ClausePattern().Matches(commands.Sql), Has.Count.EqualTo(1), commands.Sql);
        }

        await transaction.RollbackAsync();
        Assert.That(!IsPostgres || !RowIsLocked("Warehouses", warehouse.Id), Is.True);
    }

    [Test]
    public async Task A_locked_query_reuses_its_cached_plan_with_each_executions_own_parameters()
    {
        var a = await AddWarehouse("param-a");
        var b = await AddWarehouse("param-b");
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        foreach (var id in new[] { a.Id, b.Id, a.Id, b.Id })
        {
            var loaded = await context.Warehouses.AsNoTracking().Where(w => w.Id == id).ForUpdate().SingleAsync();
            Assert.That(loaded.Id, Is.EqualTo(id));
            var list = new[] { id };
            var byList = await context.Warehouses.AsNoTracking().Where(w => list.Contains(w.Id)).ForShare().SingleAsync();
            Assert.That(byList.Id, Is.EqualTo(id));
        }
    }

    private static readonly (Func<IQueryable<Warehouse>, IQueryable<Warehouse>> Apply, string? Tag)[] Variants =
    [
        (q => q, null),
        (q => q.ForUpdate(), "Update:Block:0"),
        (q => q.ForUpdate(RowLockWait.NoWait), "Update:NoWait:0"),
        (q => q.ForUpdate(RowLockWait.SkipLocked), "Update:SkipLocked:0"),
        (q => q.ForNoKeyUpdate(), "NoKeyUpdate:Block:0"),
        (q => q.ForShare(RowLockWait.NoWait), "Share:NoWait:0"),
        (q => q.ForKeyShare(), "KeyShare:Block:0"),
        (q => q.ForUpdate(TimeSpan.FromSeconds(2)), "Update:Block:2000"),
        (q => q.ForUpdate(TimeSpan.FromSeconds(3)), "Update:Block:3000"),
        (q => q.ForShare(TimeSpan.FromSeconds(2)), "Share:Block:2000"),
    ];

    private static void AssertCarries(string sql, string? tag, bool postgres)
    {
        var tags = TagPattern().Matches(sql).Select(m => $"{m.Groups[1].Value}:{m.Groups[2].Value}:{m.Groups[3].Value}").Distinct().ToList();
        Assert.That(tags, tag is null ? Is.Empty : Is.EqualTo(new[] { tag }), sql);
        if (!postgres)
        {
            return;
        }

        var clauses = ClausePattern().Matches(sql);
        if (tag is null)
        {
            Assert.That(clauses, Is.Empty, sql);
            Assert.That(sql, Does.Not.Contain("lock_timeout"), sql);
            return;
        }

        var parts = tag.Split(':');
        var strength = parts[0] switch
        {
            "Update" => "UPDATE",
            "NoKeyUpdate" => "NO KEY UPDATE",
            "Share" => "SHARE",
            _ => "KEY SHARE",
        };
        var wait = parts[1] switch
        {
            "NoWait" => " NOWAIT",
            "SkipLocked" => " SKIP LOCKED",
            _ => "",
        };
        Assert.That(clauses, Has.Count.EqualTo(1), sql);
        Assert.That(clauses[0].Groups[1].Value + clauses[0].Groups[2].Value, Is.EqualTo(strength + wait), sql);
        Assert.That(
            sql.Contains("lock_timeout", StringComparison.Ordinal),
            Is.EqualTo(parts[2] != "0"),
            sql);
        if (parts[2] != "0")
        {
            Assert.That(sql, Does.Contain($"set_config('lock_timeout', '{parts[2]}ms', true)"));
        }
    }

    [Test]
    public async Task Alternating_locks_on_one_shape_each_send_exactly_their_own_lock([Values] bool tracking)
    {
        var warehouse = await AddWarehouse("alternate");
        var id = warehouse.Id;
        for (var round = 0; round < 3; round++)
        {
            foreach (var (apply, tag) in round == 1 ? Variants.Reverse() : Variants)
            {
                var commands = new CommandCounter();
                await using var context = CreateRowLockContext(interceptors: commands);
                await using var transaction = await context.Database.BeginTransactionAsync();
                commands.Reset();
                var query = apply(context.Warehouses.Where(w => w.Id == id));
                var row = tracking ? await query.SingleAsync() : await query.AsNoTracking().SingleAsync();
                Assert.That(row.Id, Is.EqualTo(id));
                AssertCarries(commands.Sql, tag, IsPostgres);
            }
        }
    }

    [Test]
    public async Task Sixteen_parallel_contexts_with_mixed_locks_each_send_exactly_their_own_lock()
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: SQLite serializes locking transactions on its write lock.");
        }

        var warehouses = new List<Warehouse>();
        for (var i = 0; i < 16; i++)
        {
            warehouses.Add(await AddWarehouse("parallel-" + i));
        }

        for (var round = 0; round < 3; round++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
            {
                var (apply, tag) = Variants[(i + round) % Variants.Length];
                var id = warehouses[i].Id;
                var commands = new CommandCounter();
                await using var context = CreateRowLockContext(interceptors: commands);
                await using var transaction = await context.Database.BeginTransactionAsync();
                commands.Reset();
                var row = await apply(context.Warehouses.Where(w => w.Id == id)).SingleAsync();
                return (Expected: id, Got: row.Id, commands.Sql, Tag: tag);
            })));
            foreach (var result in results)
            {
                Assert.That(result.Got, Is.EqualTo(result.Expected));
                AssertCarries(result.Sql, result.Tag, postgres: true);
            }
        }
    }

    [Test]
    public async Task A_lock_in_a_subquery_is_refused_naming_its_entity([Values] bool outerLock, [Values] bool sameEntity)
    {
        var warehouse = await AddWarehouse("subquery-lock", shelves: 1);
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var query = sameEntity
            ? context.Warehouses.Where(w => w.Id == warehouse.Id && context.Warehouses.ForUpdate().Any(x => x.Id == w.Id))
            : context.Warehouses.Where(w => w.Id == warehouse.Id && context.Shelves.ForUpdate().Any(s => s.WarehouseId == w.Id));
        if (outerLock)
        {
            query = query.ForUpdate();
        }

        var error = await Throws<InvalidOperationException>(() => query.ToListAsync());
        Assert.That(
            error.Message,
            Does.Contain(sameEntity ? "'Warehouse'" : "'Shelf'").And.Contain("subquery").And.Contain("query of their own"));
        Assert.That(!IsPostgres || !RowIsLocked("Shelves", warehouse.Shelves[0].Id), Is.True, "nothing ran, nothing is locked");
    }

    [Test]
    public void A_lock_on_the_inner_side_of_a_join_is_refused()
    {
        using var context = CreateRowLockContext();
        var query = context.Warehouses.Join(context.Shelves.ForUpdate(), w => w.Id, s => s.WarehouseId, (w, s) => new { w.Id, s.Label });
        var error = Assert.Throws<InvalidOperationException>(() => query.ToQueryString());
        Assert.That(error!.Message, Does.Contain("'Shelf'").And.Contain("second source"));
    }

    [Test]
    public async Task A_lock_on_rows_reached_from_another_root_is_refused_instead_of_locking_the_root([Values] bool selectMany)
    {
        var warehouse = await AddWarehouse("projected", withManager: true, shelves: 1);
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var error = selectMany
            ? await Throws<InvalidOperationException>(() => context.Warehouses.Where(w => w.Id == warehouse.Id).SelectMany(w => w.Shelves).ForUpdate().ToListAsync())
            : await Throws<InvalidOperationException>(() => context.Warehouses.Where(w => w.Id == warehouse.Id).Select(w => w.Manager!).ForUpdate().ToListAsync());
        var entity = selectMany ? "Shelf" : "Manager";
        Assert.That(error.Message, Does.Contain($"'{entity}'").And.Contain("'Warehouse'").And.Contain("query of their own"));
        Assert.That(!IsPostgres || !RowIsLocked("Warehouses", warehouse.Id), Is.True, "nothing ran, nothing is locked");
    }

    [Test]
    public async Task A_tracked_row_refreshed_by_a_locking_query_still_checks_a_stale_client_version([Values] bool original)
    {
        var warehouse = await AddWarehouse("refresh-stale");
        await using var context = CreateRowLockContext();
        var tracked = await context.Warehouses.SingleAsync(w => w.Id == warehouse.Id); // version 1
        await using (var other = CreateRowLockContext())
        {
            (await other.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock = 7;
            await other.SaveChangesAsync(); // version 2
        }

        await using var transaction = await context.Database.BeginTransactionAsync();
        var locked = await context.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate().SingleAsync();
        Assert.That(locked, Is.SameAs(tracked));
        Assert.That(locked.Version, Is.EqualTo(2), "the lock refreshes the tracked row");
        if (original)
        {
            context.Entry(locked).Property(w => w.Version).OriginalValue = 1L;
        }
        else
        {
            locked.Version = 1;
        }

        locked.Stock = 100;
        var conflict = await Throws<RecordModifiedException>(() => context.SaveChangesAsync());
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        await transaction.RollbackAsync();
        await using var check = CreateRowLockContext();
        Assert.That((await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock, Is.EqualTo(7));
    }

    [Test]
    public async Task ExecuteUpdate_after_ForUpdate_updates_or_is_refused_clearly([Values] bool delete)
    {
        var warehouse = await AddWarehouse("execute-" + delete);
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var query = context.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate();
        try
        {
            var affected = delete
                ? await query.ExecuteDeleteAsync()
                : await query.ExecuteUpdateAsync(s => s.SetProperty(w => w.Stock, 42));
            Assert.That(affected, Is.EqualTo(1));
            await transaction.CommitAsync();
        }
        catch (InvalidOperationException e)
        {
            Assert.That(e.Message, Does.Contain("Warehouse").Or.Contain("row lock").Or.Contain("ForUpdate"), e.ToString());
            Assert.That(e.StackTrace, Does.Not.Contain("NullReferenceException"));
            return;
        }

        await using var check = CreateRowLockContext();
        var stored = await check.Warehouses.AsNoTracking().SingleOrDefaultAsync(w => w.Id == warehouse.Id);
        Assert.That(delete ? stored is null : stored?.Stock == 42, Is.True);
    }

    [Test]
    public async Task Count_Any_Distinct_GroupBy_after_a_lock_fail_with_the_librarys_message_or_run()
    {
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var q = context.Warehouses.ForShare(RowLockWait.NoWait);
        var attempts = new (string Name, Func<Task> Run)[]
        {
            ("Count", () => q.CountAsync()),
            ("LongCount", () => q.LongCountAsync()),
            ("Any", () => q.AnyAsync()),
            ("All", () => q.AllAsync(w => w.Id > 0)),
            ("Max", () => q.MaxAsync(w => w.Id)),
            ("Distinct", () => q.Select(w => w.Name).Distinct().ToListAsync()),
            ("GroupBy", () => q.GroupBy(w => w.Name).Select(g => new { g.Key, Count = g.Count() }).ToListAsync()),
        };
        var ran = new List<string>();
        foreach (var (name, run) in attempts)
        {
            try
            {
                await run();
                ran.Add(name);
            }
            catch (InvalidOperationException e) when (e.Message.Contains("cannot take a row lock", StringComparison.Ordinal))
            {
                Assert.That(e.Message, Does.Contain("Warehouse"));
            }
        }

        Assert.That(ran, IsPostgres ? Is.Empty : Has.Count.EqualTo(attempts.Length), "PostgreSQL cannot lock these shapes: each must be refused");
    }

    // Compiled queries: one per strength and wait, built once per fixture.
    private readonly Func<RowLockContext, int, Task<Warehouse?>>[] _compiledVariants =
    [
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForUpdate(RowLockWait.Block).FirstOrDefault()),
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForUpdate(RowLockWait.SkipLocked).FirstOrDefault()),
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForNoKeyUpdate(RowLockWait.NoWait).FirstOrDefault()),
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForShare().FirstOrDefault()),
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForKeyShare(TimeSpan.FromMilliseconds(1500)).FirstOrDefault()),
        EF.CompileAsyncQuery((RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).Include(w => w.Shelves).ForUpdate().FirstOrDefault()),
    ];

    private static readonly string[] CompiledTags =
        ["Update:Block:0", "Update:SkipLocked:0", "NoKeyUpdate:NoWait:0", "Share:Block:0", "KeyShare:Block:1500", "Update:Block:0"];

    private static readonly RowLockWait CapturedWait = RowLockWait.NoWait;

    private readonly Func<RowLockContext, int, Warehouse?> _compiledCapturedWait = EF.CompileQuery(
        (RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).ForUpdate(CapturedWait).FirstOrDefault());

    private readonly Func<RowLockContext, int, IAsyncEnumerable<Warehouse>> _compiledInclude = EF.CompileAsyncQuery(
        (RowLockContext c, int id) => c.Warehouses.Where(w => w.Id == id).Include(w => w.Manager).Include(w => w.Shelves).ForUpdate());

    [Test]
    public async Task Compiled_queries_of_each_strength_and_wait_send_their_own_lock_alternating_with_uncompiled_ones()
    {
        var warehouse = await AddWarehouse("compiled-attack", withManager: true, shelves: 2);
        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < _compiledVariants.Length; i++)
            {
                var commands = new CommandCounter();
                await using var context = CreateRowLockContext(interceptors: commands);
                await using (var transaction = await context.Database.BeginTransactionAsync())
                {
                    commands.Reset();
                    Assert.That((await _compiledVariants[i](context, warehouse.Id))?.Id, Is.EqualTo(warehouse.Id));
                    AssertCarries(commands.Sql, CompiledTags[i], IsPostgres);
                    commands.Reset();
                    Assert.That((await context.Warehouses.Where(w => w.Id == warehouse.Id).FirstOrDefaultAsync())?.Id, Is.EqualTo(warehouse.Id));
                    AssertCarries(commands.Sql, null, IsPostgres);
                }

                commands.Reset();
                var outside = await Throws<InvalidOperationException>(() => _compiledVariants[i](context, warehouse.Id));
                Assert.That(outside.Message, Does.Contain("BeginTransaction"));
            }
        }
    }

    [Test]
    public async Task A_compiled_query_with_Include_and_a_captured_static_wait_locks_the_root()
    {
        var warehouse = await AddWarehouse("compiled-include", withManager: true, shelves: 2);
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await context.Database.BeginTransactionAsync();
        commands.Reset();
        var rows = new List<Warehouse>();
        await foreach (var w in _compiledInclude(context, warehouse.Id))
        {
            rows.Add(w);
        }

        Assert.That(rows.Single().Shelves, Has.Count.EqualTo(2));
        Assert.That(rows.Single().Manager, Is.Not.Null);
        AssertCarries(commands.Sql, "Update:Block:0", IsPostgres);
        commands.Reset();
        Assert.That(_compiledCapturedWait(context, warehouse.Id)?.Id, Is.EqualTo(warehouse.Id));
        AssertCarries(commands.Sql, "Update:NoWait:0", IsPostgres);
    }

    [Test]
    public async Task A_compiled_query_whose_wait_mode_is_a_parameter_is_refused_naming_the_entity_and_constant()
    {
        var compiled = EF.CompileAsyncQuery(
            (RowLockContext c, int id, RowLockWait wait) => c.Warehouses.Where(w => w.Id == id).ForShare(wait).FirstOrDefault());
        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => compiled(context, 1, RowLockWait.NoWait));
        Assert.That(error!.Message, Does.Contain("Warehouse").And.Contain("constant").And.Contain("ForShare"));
    }

    [Test]
    public async Task A_pooled_context_factory_keeps_each_leases_lock_and_versions_apart()
    {
        var warehouse = await AddWarehouse("pooled");
        var commands = new CommandCounter();
        var builder = Database.Configure(new DbContextOptionsBuilder<RowLockContext>()).UseConcurrency().AddInterceptors(commands);
        if (IsPostgres)
        {
            builder.UseRowLocks();
        }

        var factory = new PooledDbContextFactory<RowLockContext>(builder.Options, poolSize: 2);
        for (var i = 0; i < 20; i++)
        {
            var (apply, tag) = Variants[i % Variants.Length];
            await using var context = await factory.CreateDbContextAsync();
            await using var transaction = await context.Database.BeginTransactionAsync();
            commands.Reset();
            var row = await apply(context.Warehouses.Where(w => w.Id == warehouse.Id)).SingleAsync();
            AssertCarries(commands.Sql, tag, IsPostgres);

            // A client with the version before this lease's save: the save must conflict, not overwrite.
            row.Stock = i + 1;
            await context.SaveChangesAsync();
            context.Entry(row).Property(w => w.Version).OriginalValue = row.Version - 1;
            row.Stock = -1;
            Assert.That(await Throws<RecordModifiedException>(() => context.SaveChangesAsync()), Is.Not.Null);
            await transaction.CommitAsync();
        }

        await using var check = CreateRowLockContext();
        var stored = await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id);
        Assert.That(stored.Stock, Is.EqualTo(20));
        Assert.That(stored.Version, Is.EqualTo(21));
    }

    [Test]
    public void The_same_timeout_twice_is_one_lock_even_past_the_request_cache()
    {
        using var context = CreateRowLockContext();
        for (var ms = 1; ms <= 200; ms++)
        {
            var t = TimeSpan.FromMilliseconds(ms * 7);
            Assert.DoesNotThrow(() => context.Warehouses.ForUpdate(t).Where(w => w.Id > 0).ForUpdate(t));
        }

        var sql = context.Warehouses.ForUpdate(TimeSpan.FromMilliseconds(1399)).ToQueryString();
        Assert.That(sql, Does.Contain(":Update:Block:1399:Warehouse"));
    }

    [Test]
    public async Task A_stale_version_on_a_row_read_for_update_still_conflicts()
    {
        var warehouse = await AddWarehouse("stale-locked");
        await using (var other = CreateRowLockContext())
        {
            (await other.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock = 5;
            await other.SaveChangesAsync(); // version 2
        }

        await using var context = CreateRowLockContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var row = await context.Warehouses.Where(w => w.Id == warehouse.Id).ForUpdate().AsNoTracking().SingleAsync();
        Assert.That(row.Version, Is.EqualTo(2));
        context.Attach(row);
        row.Version = 1; // the client's stale version
        row.Stock = 99;
        Assert.That(await Throws<RecordModifiedException>(() => context.SaveChangesAsync()), Is.Not.Null);
    }

    [Test]
    public async Task A_query_behind_another_provider_that_hands_it_to_EF_still_takes_its_lock()
    {
        var warehouse = await AddWarehouse("wrapped-provider");
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await context.Database.BeginTransactionAsync();
        var unlocked = context.Warehouses.Where(w => w.Id == warehouse.Id);
        var wrapped = new ForwardingProvider(unlocked.Provider).CreateQuery<Warehouse>(unlocked.Expression); // like LINQKit's AsExpandable()
        var locked = wrapped.ForUpdate(RowLockWait.NoWait);
        Assert.That(locked.Provider, Is.InstanceOf<ForwardingProvider>(), "the query stays the wrapper's");

        Assert.That(locked.ToList().Single().Id, Is.EqualTo(warehouse.Id));
        Assert.That(commands.Sql, Does.Contain("concurrency:row-lock"));
        Assert.That(!IsPostgres || RowIsLocked("Warehouses", warehouse.Id), Is.True, commands.Sql);
        Assert.That(new[] { 1, 2 }.AsQueryable().ForUpdate().ToList(), Is.EqualTo(new[] { 1, 2 }), "LINQ to Objects: nothing to lock");
    }

    /// <summary>A query provider that forwards to EF's, as query-rewriting libraries (LINQKit) do.</summary>
    private sealed class ForwardingProvider(IQueryProvider inner) : IQueryProvider
    {
        public IQueryable CreateQuery(System.Linq.Expressions.Expression expression)
            => throw new NotSupportedException();

        public IQueryable<TElement> CreateQuery<TElement>(System.Linq.Expressions.Expression expression)
            => new ForwardingQuery<TElement>(this, expression);

        public object? Execute(System.Linq.Expressions.Expression expression)
            => inner.Execute(expression);

        public TResult Execute<TResult>(System.Linq.Expressions.Expression expression)
            => inner.Execute<TResult>(expression);
    }

    private sealed class ForwardingQuery<T>(ForwardingProvider provider, System.Linq.Expressions.Expression expression) : IQueryable<T>
    {
        public Type ElementType
            => typeof(T);

        public System.Linq.Expressions.Expression Expression
            => expression;

        public IQueryProvider Provider
            => provider;

        public IEnumerator<T> GetEnumerator()
            => provider.Execute<IEnumerable<T>>(expression).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator()
            => GetEnumerator();
    }
}
