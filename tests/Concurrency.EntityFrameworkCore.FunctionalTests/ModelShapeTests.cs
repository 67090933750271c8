using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>Inheritance (TPH, TPT), owned types, shadow versions, pooling and other interceptors.</summary>
public sealed class ModelShapeTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task TPH_derived_entities_are_versioned_and_checked([Values] bool async)
    {
        var dog = await Add(new Dog { Name = "Rex", Breed = "mutt" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Dogs.SingleAsync(x => x.Id == dog.Id);
        var fromB = await b.Animals.SingleAsync(x => x.Id == dog.Id);
        fromA.Breed = "collie";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));
        fromB.Name = "Max";
        var exception = await ThrowsConflict(b, async);
        Assert.That(exception.EntityType, Is.EqualTo(typeof(Dog)));
    }

    [Test]
    public async Task TPT_a_change_to_the_derived_table_only_still_bumps_and_checks_the_version([Values] bool async)
    {
        var car = await Add(new Car { Make = "Fiat", Seats = 4 });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Cars.SingleAsync(x => x.Id == car.Id);
        var fromB = await b.Cars.SingleAsync(x => x.Id == car.Id);
        fromA.Seats = 5; // only the Cars table changes
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));
        fromB.Seats = 2;
        await ThrowsConflict(b, async);

        await using var check = CreateContext();
        Assert.That((await check.Cars.SingleAsync(x => x.Id == car.Id)).Seats, Is.EqualTo(5));
    }

    [Test]
    public async Task Shadow_version_fields_work_for_classes_you_cannot_change([Values] bool async)
    {
        var tag = await Add(new Tag { Name = "t" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Tags.SingleAsync(x => x.Id == tag.Id);
        var fromB = await b.Tags.SingleAsync(x => x.Id == tag.Id);
        Assert.That(a.Entry(fromA).GetVersion(), Is.EqualTo(1));
        fromA.Name = "a";
        await Save(a, async);
        Assert.That(a.Entry(fromA).GetVersion(), Is.EqualTo(2));
        fromB.Name = "b";
        var exception = await ThrowsConflict(b, async);
        Assert.That(exception.ActualVersion, Is.EqualTo(2));
    }

    [Test]
    public async Task Owned_entities_share_the_owner_row_and_its_check([Values] bool async)
    {
        var customer = await Add(new Customer { Name = "c", Address = new Address { Street = "s", City = "x" } });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Customers.SingleAsync(x => x.Id == customer.Id);
        var fromB = await b.Customers.SingleAsync(x => x.Id == customer.Id);
        fromA.Name = "a";
        fromA.Address.City = "a-city";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));
        fromB.Name = "b";
        fromB.Address.City = "b-city";
        await ThrowsConflict(b, async);

        await using var check = CreateContext();
        var stored = await check.Customers.SingleAsync(x => x.Id == customer.Id);
        Assert.That((stored.Name, stored.Address.City), Is.EqualTo(("a", "a-city")));
    }

    [Test]
    public async Task Changing_only_an_owned_entity_bumps_and_checks_the_owners_version([Values] bool async)
    {
        var customer = await Add(new Customer { Name = "c", Address = new Address { Street = "s", City = "x" } });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Customers.SingleAsync(x => x.Id == customer.Id);
        var fromB = await b.Customers.SingleAsync(x => x.Id == customer.Id);
        fromA.Address.City = "a-city";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));

        fromA.Address.Street = "a-street"; // a second owned-only save from the same context
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(3));

        fromB.Address.City = "b-city";
        await ThrowsConflict(b, async);

        fromA.Name = "owner only";
        await Save(a, async);
        fromA.Address.City = "owned only, after the owner moved on";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(5));

        await using var check = CreateContext();
        var stored = await check.Customers.SingleAsync(x => x.Id == customer.Id);
        Assert.That((stored.Name, stored.Address.City, stored.Address.Street, stored.Version), Is.EqualTo(("owner only", "owned only, after the owner moved on", "a-street", 5)));
    }

    [Test]
    public async Task Pooled_contexts_keep_checking_across_leases([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        var options = Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency().Options;
        var factory = new PooledDbContextFactory<VersionedContext>(options, poolSize: 2);
        for (var lease = 0; lease < 3; lease++)
        {
            await using var a = factory.CreateDbContext();
            await using var b = new VersionedContext(options);
            var fromA = await a.Articles.SingleAsync(x => x.Id == article.Id);
            var fromB = await b.Articles.SingleAsync(x => x.Id == article.Id);
            fromB.Title = "b" + lease;
            await Save(b, async);
            fromA.Title = "a" + lease;
            await ThrowsConflict(a, async);
        }
    }

    [Test]
    public async Task Works_next_to_the_applications_own_interceptors_and_adds_no_round_trip([Values] bool async)
    {
        var ids = new List<int>();
        var noteIds = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await Add(new Article { Title = "r" + i })).Id);
            noteIds.Add((await Add(new Note { Text = "r" + i })).Id);
        }

        var counter = new CommandCounter();

        // Baseline: the same save of an entity without a version field.
        await using (var context = CreateContext(counter))
        {
            foreach (var note in await context.Notes.Where(x => noteIds.Contains(x.Id)).ToListAsync())
            {
                note.Text += "!";
            }

            counter.Reset();
            await Save(context, async);
        }

        var baseline = counter.Commands;

        await using (var context = CreateContext(counter))
        {
            var loaded = await context.Articles.Where(x => ids.Contains(x.Id)).ToListAsync();
            foreach (var article in loaded)
            {
                article.Title += "!";
            }

            counter.Reset();
            await Save(context, async);
            Assert.That(loaded.All(a => a.Version == 2), Is.True);
        }

        Assert.That(counter.Commands, Is.EqualTo(baseline), "versioning adds no command to SaveChanges");
        if (IsPostgres)
        {
            Assert.That(counter.Commands, Is.EqualTo(1), "five versioned updates go to PostgreSQL in one batch");
        }

        Assert.That(counter.Sql, Does.Contain("\"Version\" = @"));
    }

    [Test]
    public async Task Registered_through_dependency_injection_with_a_pool([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        var services = new ServiceCollection();
        services.AddDbContextPool<VersionedContext>(o => ConfigureUntyped(o).UseConcurrency());
        await using var provider = services.BuildServiceProvider();
        await using var scopeA = provider.CreateAsyncScope();
        await using var scopeB = provider.CreateAsyncScope();
        var a = scopeA.ServiceProvider.GetRequiredService<VersionedContext>();
        var b = scopeB.ServiceProvider.GetRequiredService<VersionedContext>();
        var fromA = await a.Articles.SingleAsync(x => x.Id == article.Id);
        var fromB = await b.Articles.SingleAsync(x => x.Id == article.Id);
        fromA.Title = "a";
        await Save(a, async);
        fromB.Title = "b";
        await ThrowsConflict(b, async);
    }

    [Test]
    public async Task A_save_aborted_by_a_later_interceptor_leaves_no_bumped_version_behind([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        var failOnce = new ThrowOnceInterceptor();
        await using var context = CreateContext(failOnce);
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        loaded.Title = "first try";

        // The application's own SavingChanges interceptor runs after ours and throws: EF calls no failure hook then.
        await Assert.ThrowsAsync<InvalidOperationException>(() => Save(context, async));

        loaded.Title = "second try";
        await Save(context, async); // no false conflict from the first attempt's bump
        Assert.That(loaded.Version, Is.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(x => x.Id == article.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("second try", 2L)));
    }

    [Test]
    public async Task A_DetectChanges_between_an_aborted_save_and_the_next_one_changes_nothing_in_the_database([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var context = CreateContext(new ThrowOnceInterceptor());
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        loaded.Title = "first try";
        await Assert.ThrowsAsync<InvalidOperationException>(() => Save(context, async));

        // The application inspects the tracker after the failed save: this runs a DetectChanges outside any save.
        Assert.That(context.ChangeTracker.Entries().Count(), Is.EqualTo(1));

        await using (var check = CreateContext())
        {
            Assert.That((await check.Articles.SingleAsync(x => x.Id == article.Id)).Version, Is.EqualTo(1));
        }

        loaded.Title = "second try";
        await Save(context, async);
        Assert.That(loaded.Version, Is.EqualTo(2));

        await using var after = CreateContext();
        var stored = await after.Articles.SingleAsync(x => x.Id == article.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("second try", 2L)));
    }

    [Test]
    public async Task A_versioned_save_runs_DetectChanges_once_like_a_plain_one([Values] bool async, [Values] bool autoDetect)
    {
        var ids = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((await Add(new Article { Title = "d" + i })).Id);
        }

        await using var context = CreateContext();
        context.ChangeTracker.AutoDetectChangesEnabled = autoDetect;
        var loaded = await context.Articles.Where(x => ids.Contains(x.Id)).ToListAsync();
        foreach (var article in loaded)
        {
            article.Title += "!";
            if (!autoDetect)
            {
                context.Entry(article).Property(x => x.Title).IsModified = true;
            }
        }

        var scans = 0;
        context.ChangeTracker.DetectingAllChanges += (_, _) => scans++;
        await Save(context, async);

        // EF itself scans once when auto-detect is on and never when it is off; versioning adds no scan of its own.
        Assert.That(scans, Is.EqualTo(autoDetect ? 1 : 0));
        Assert.That(loaded.Select(x => x.Version), Is.All.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Articles.Where(x => ids.Contains(x.Id)).OrderBy(x => x.Id).ToListAsync();
        Assert.That(stored.Select(x => (x.Title.EndsWith('!'), x.Version)), Is.All.EqualTo((true, 2L)));
    }

    private sealed class ThrowOnceInterceptor : SaveChangesInterceptor
    {
        private bool _thrown;

        public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
            => Throw(result);

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData,
            InterceptionResult<int> result,
            CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Throw(result));

        private InterceptionResult<int> Throw(InterceptionResult<int> result)
        {
            if (_thrown)
            {
                return result;
            }

            _thrown = true;
            throw new InvalidOperationException("validation failed");
        }
    }

    private DbContextOptionsBuilder ConfigureUntyped(DbContextOptionsBuilder builder)
        => IsPostgres ? builder.UseNpgsql(ConnectionString) : builder.UseSqlite(ConnectionString);
}
