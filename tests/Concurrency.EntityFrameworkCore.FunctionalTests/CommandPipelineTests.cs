using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     The SQL the library sends itself goes through EF's command pipeline: the application's <c>LogTo</c> and command
///     interceptors (and so OpenTelemetry's EF instrumentation) see every statement, in the transaction EF's own run in.
/// </summary>
public sealed class CommandPipelineTests(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateLockSchema()
        => CreateLockTables();

    private string ForUpdate
        => IsPostgres ? " FOR UPDATE" : string.Empty;

    [Test]
    public async Task The_conflict_read_of_the_actual_version_is_logged_and_intercepted_in_EFs_own_save_transaction([Values] bool async)
    {
        var stale = await Add(new Article { Title = "stale" });
        var other = await Add(new Article { Title = "other" });
        var watch = new Watch();
        await using var context = CreateContext(watch);
        var loaded = await context.Articles.Where(x => x.Id == stale.Id || x.Id == other.Id).ToListAsync();
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 2 WHERE \"Id\" = {stale.Id}");
        loaded.ForEach(a => a.Title += "!"); // two statements: EF begins its own transaction for the save
        watch.Reset();

        var exception = await ThrowsConflict(context, async);

        Assert.That((exception.ExpectedVersion, exception.ActualVersion), Is.EqualTo((1L, 2L)));
        var read = watch.Saw("SELECT \"Version\" FROM \"Articles\" WHERE \"Id\" = @cv0;");
        var update = watch.Counter.Executed.First(c => c.Sql.Contains("UPDATE \"Articles\"", StringComparison.Ordinal));
        Assert.That(update.Transaction, Is.Not.Null, "EF ran the save in its own transaction");
        Assert.That(read.Transaction, Is.SameAs(update.Transaction), "the read runs in EF's save transaction, before its rollback");
    }

    [Test]
    public async Task The_conflict_read_runs_in_the_applications_transaction([Values] bool async)
    {
        var watch = new Watch();
        await using var context = CreateContext(watch);
        var loaded = await LoadThenMoveOn(context, version: 7);
        await using var transaction = await context.Database.BeginTransactionAsync();
        loaded.Title = "stale";
        watch.Reset();

        var exception = await ThrowsConflict(context, async);

        Assert.That(exception.ActualVersion, Is.EqualTo(7));
        var read = watch.Saw("SELECT \"Version\" FROM \"Articles\" WHERE \"Id\" = @cv0;");
        Assert.That(read.Transaction, Is.SameAs(transaction.GetDbTransaction()));
    }

    [Test]
    public async Task The_DisableConcurrency_read_is_logged_and_intercepted_with_its_row_lock([Values] bool async)
    {
        var watch = new Watch();
        await using var context = CreateContext(watch);
        var loaded = await LoadThenMoveOn(context, version: 5);
        loaded.Title = "bulk job";
        watch.Reset();

        using (new DisableConcurrency())
        {
            await Save(context, async);
        }

        Assert.That(loaded.Version, Is.EqualTo(6), "the version read goes on from the database value");
        var read = watch.Saw($"SELECT \"Version\" FROM \"Articles\" WHERE \"Id\" = @cv0{ForUpdate};");
        var update = watch.Counter.Executed.Single(c => c.Sql.Contains("UPDATE \"Articles\"", StringComparison.Ordinal));
        Assert.That(read.Transaction, Is.Not.Null.And.SameAs(update.Transaction), "the row stays locked until EF's UPDATE");
    }

    [Test]
    public async Task The_object_lock_read_before_a_save_is_logged_and_intercepted([Values] bool async)
    {
        var id = (await SaveNew(CreateLockContext(), new Post { Title = "draft" })).Id;
        var watch = new Watch();
        await using var context = CreateLockContext(watch.Attach);
        var loaded = await context.Posts.SingleAsync(x => x.Id == id);
        loaded.Title = "edited";
        watch.Reset();

        await Save(context, async);

        var read = watch.Saw($"SELECT \"IsLocked\" FROM \"Posts\" WHERE \"Id\" = @cv0{ForUpdate};");
        var update = watch.Counter.Executed.Single(c => c.Sql.Contains("UPDATE \"Posts\"", StringComparison.Ordinal));
        Assert.That(read.Transaction, Is.Not.Null.And.SameAs(update.Transaction));
        await using var check = CreateLockContext();
        Assert.That((await check.Posts.SingleAsync(x => x.Id == id)).Title, Is.EqualTo("edited"));
    }

    [Test]
    public async Task Lock_and_unlock_statements_are_logged_and_intercepted([Values] bool async)
    {
        var watch = new Watch();
        await using var context = CreateLockContext(watch.Attach);
        var post = context.Add(new Post { Title = "draft" }).Entity;
        await context.SaveChangesAsync();

        foreach (var lockIt in new[] { true, false })
        {
            watch.Reset();
            if (async)
            {
                await (lockIt ? context.LockAsync(post) : context.UnlockAsync(post));
            }
            else
            {
                _ = lockIt ? context.Lock(post) : context.Unlock(post);
            }

            var read = watch.Saw($"SELECT \"IsLocked\" FROM \"Posts\" WHERE \"Id\" = @cv0{ForUpdate};");
            var write = watch.Saw("UPDATE \"Posts\" SET \"IsLocked\" = @cv0, \"Version\" = \"Version\" + 1 WHERE \"Id\" = @cv1;");
            watch.Saw("SELECT \"Version\" FROM \"Posts\" WHERE \"Id\" = @cv0;");
            Assert.That(watch.Counter.Commands, Is.EqualTo(4), "lock state, version before, write, version after");
            Assert.That(read.Transaction, Is.Not.Null.And.SameAs(write.Transaction), "decided and written under the row's lock");
        }

        await using var check = CreateLockContext();
        var stored = await check.Posts.SingleAsync(x => x.Id == post.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((false, 3L)));
    }

    private VersionedContext CreateContext(Watch watch)
        => new(watch.Attach(Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency()).Options);

    /// <summary>Adds an article, loads it in <paramref name="context" />, then moves its row on to <paramref name="version" /> as another client would.</summary>
    private async Task<Article> LoadThenMoveOn(VersionedContext context, long version)
    {
        var article = await Add(new Article { Title = "t" });
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = {version} WHERE \"Id\" = {article.Id}");
        return loaded;
    }

    /// <summary>What the application sees of the SQL: the lines of its <c>LogTo</c> sink and its own command interceptor.</summary>
    private sealed class Watch
    {
        private readonly List<string> _log = [];

        public CommandCounter Counter { get; } = new();

        public DbContextOptionsBuilder Attach(DbContextOptionsBuilder builder)
            => builder.LogTo(_log.Add, [RelationalEventId.CommandExecuted]).AddInterceptors(Counter);

        public void Reset()
        {
            _log.Clear();
            Counter.Reset();
        }

        /// <summary>Asserts that both the log and the interceptor saw a command containing <paramref name="sql" />, and returns it.</summary>
        public (string Sql, DbTransaction? Transaction) Saw(string sql)
        {
            Assert.That(_log, Has.Some.Contains(sql), $"LogTo saw '{sql}'");
            var command = Counter.Executed.FirstOrDefault(c => c.Sql.Contains(sql, StringComparison.Ordinal));
            Assert.That(command.Sql, Is.Not.Null, $"the command interceptor saw '{sql}'; it saw:\n{Counter.Sql}");
            return command;
        }
    }
}
