using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Npgsql;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     Versions are prepared from the entities as EF finally saves them, whatever runs before: an application interceptor
///     that enumerates entries and then changes some, a retrying execution strategy that runs the save again, a pooled
///     context on its next lease. (Found by an adversarial run; each was a silent lost update or an ignored lock.)
/// </summary>
[Category("Reliability")]
public sealed class SaveOrderTests(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateLocks()
        => CreateLockTables();

    private sealed class SavingHook(Action<DbContext> onSaving) : SaveChangesInterceptor
    {
        public override InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
        {
            onSaving(eventData.Context!);
            return result;
        }

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData,
            InterceptionResult<int> result,
            CancellationToken cancellationToken = default)
        {
            onSaving(eventData.Context!);
            return ValueTask.FromResult(result);
        }
    }

    [Test]
    public async Task An_interceptor_that_enumerates_entries_and_then_changes_one_still_gets_it_versioned([Values] bool async)
    {
        var article = await Add(new Article { Title = "a" });
        var counter = await Add(new Counter { Value = 0 });
        var audit = new SavingHook(
            context =>
            {
                var modified = context.ChangeTracker.Entries<Article>().Count(e => e.State == EntityState.Modified); // runs DetectChanges
                foreach (var entry in context.ChangeTracker.Entries<Counter>())
                {
                    entry.Entity.Value += modified;
                }
            });

        await using (var context = CreateContext(audit))
        {
            (await context.Articles.SingleAsync(a => a.Id == article.Id)).Title = "edited";
            await context.Counters.SingleAsync(c => c.Id == counter.Id);
            await Save(context, async);
        }

        await using var check = CreateContext();
        var stored = await check.Counters.AsNoTracking().SingleAsync(c => c.Id == counter.Id);
        Assert.That((stored.Value, stored.Version), Is.EqualTo((1, 2)));
        Assert.That((await check.Articles.AsNoTracking().SingleAsync(a => a.Id == article.Id)).Version, Is.EqualTo(2), "bumped once, not twice");
    }

    [Test]
    public async Task A_soft_delete_interceptor_writes_a_bumped_version_and_a_stale_editor_conflicts([Values] bool async)
    {
        var article = await Add(new Article { Title = "a" });
        var softDelete = new SavingHook(
            context =>
            {
                foreach (var entry in context.ChangeTracker.Entries<Article>().Where(e => e.State == EntityState.Deleted).ToList())
                {
                    entry.State = EntityState.Modified;
                    entry.Entity.Title = "[deleted]";
                }
            });

        await using var stale = CreateContext();
        var staleCopy = await stale.Articles.SingleAsync(a => a.Id == article.Id);
        await using (var context = CreateContext(softDelete))
        {
            context.Articles.Remove(await context.Articles.SingleAsync(a => a.Id == article.Id));
            await Save(context, async);
        }

        staleCopy.Body = "stale edit of a deleted article";
        await ThrowsConflict(stale, async);

        await using var check = CreateContext();
        var stored = await check.Articles.AsNoTracking().SingleAsync(a => a.Id == article.Id);
        Assert.That((stored.Title, stored.Body, stored.Version), Is.EqualTo(("[deleted]", "", 2L)));
    }

    [Test]
    public async Task A_pooled_context_keeps_checking_the_client_version_on_its_next_lease([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        var options = Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency().Options;
        var factory = new PooledDbContextFactory<VersionedContext>(options, poolSize: 1);

        await using (var first = factory.CreateDbContext())
        {
            (await first.Articles.SingleAsync(a => a.Id == article.Id)).Body = "lease 1";
            await Save(first, async); // version 2
        }

        await using var second = factory.CreateDbContext();
        var loaded = await second.Articles.SingleAsync(a => a.Id == article.Id);
        loaded.Body = "lease 2";
        await Save(second, async); // version 3, accepted: the library must see it
        loaded.Version = 2; // a client who read version 2
        loaded.Title = "stale";
        var conflict = await ThrowsConflict(second, async);
        Assert.That((conflict.ExpectedVersion, conflict.ActualVersion), Is.EqualTo((2L, 3L)));
    }

    [Test]
    public async Task A_retried_save_checks_object_locks_again()
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: the retrying execution strategy under test is Npgsql's EnableRetryOnFailure.");
        }

        int id;
        await using (var setup = CreateLockContext())
        {
            var folder = new Folder { Name = "v1" };
            setup.Add(folder);
            await setup.SaveChangesAsync();
            id = folder.Id;
        }

        // The first UPDATE: the connection dies, and meanwhile someone freezes (locks) the folder; EF retries the save.
        var breaker = new FirstUpdateBreaker(
            "UPDATE \"Folders\"",
            command =>
            {
                ExecuteRaw($"SELECT pg_terminate_backend({((NpgsqlConnection)command.Connection!).ProcessID})");
                ExecuteRaw($"UPDATE \"Folders\" SET \"Frozen\" = true WHERE \"Id\" = {id}");
                throw new NpgsqlException("simulated network failure", new IOException("connection reset by peer"));
            });
        await using var context = new LockContext(
            new DbContextOptionsBuilder<LockContext>()
                .UseNpgsql(ConnectionString, o => o.EnableRetryOnFailure(3, TimeSpan.FromMilliseconds(20), null))
                .UseConcurrency()
                .AddInterceptors(breaker)
                .Options);
        (await context.Folders.SingleAsync(f => f.Id == id)).Name = "edited while someone froze it";
        Assert.That(async () => await context.SaveChangesAsync(), Throws.InstanceOf<ObjectLockedException>());

        await using var check = CreateLockContext();
        var stored = await check.Folders.AsNoTracking().SingleAsync(f => f.Id == id);
        Assert.That((stored.Frozen, stored.Name), Is.EqualTo((true, "v1")));
    }

    /// <summary>Runs <paramref name="breakIt" /> before the first command containing <paramref name="marker" />.</summary>
    private sealed class FirstUpdateBreaker(string marker, Action<DbCommand> breakIt) : DbCommandInterceptor
    {
        private int _fired;

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command,
            CommandEventData eventData,
            InterceptionResult<DbDataReader> result,
            CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains(marker, StringComparison.Ordinal) && Interlocked.Exchange(ref _fired, 1) == 0)
            {
                breakIt(command);
            }

            return ValueTask.FromResult(result);
        }
    }
}
