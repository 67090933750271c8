using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>A row whose parent reference is checked only at COMMIT (a deferred foreign key).</summary>
public class Widget : ILockable
{
    public int Id { get; set; }

    public int? ParentId { get; set; }

    public bool IsLocked { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public class WidgetContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Widget> Widgets => Set<Widget>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}

/// <summary>
///     Saves that need a read under a row lock first (DisableConcurrency, lockable entities) run in a transaction the
///     library begins: it is committed before EF accepts the changes, so a commit that fails leaves them pending and
///     says so; and rows are locked in one order, so two such saves never deadlock where EF alone would not.
/// </summary>
[Category("Reliability")]
public sealed class OwnTransactionTests(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateWidgets()
        => ExecuteRaw(
            IsPostgres
                ? "CREATE TABLE \"Widgets\" (\"Id\" integer PRIMARY KEY, \"ParentId\" integer NULL REFERENCES \"Widgets\" (\"Id\") DEFERRABLE INITIALLY DEFERRED,"
                  + " \"IsLocked\" boolean NOT NULL, \"Version\" bigint NOT NULL)"
                : "CREATE TABLE \"Widgets\" (\"Id\" INTEGER PRIMARY KEY, \"ParentId\" INTEGER NULL REFERENCES \"Widgets\" (\"Id\") DEFERRABLE INITIALLY DEFERRED,"
                  + " \"IsLocked\" INTEGER NOT NULL, \"Version\" INTEGER NOT NULL)");

    private WidgetContext CreateWidgetContext()
        => new(
            (IsPostgres
                ? new DbContextOptionsBuilder<WidgetContext>().UseNpgsql(ConnectionString)
                : new DbContextOptionsBuilder<WidgetContext>().UseSqlite(ConnectionString))
            .UseConcurrency()
            .Options);

    private static int _nextId = 1000;

    private async Task<int> AddWidget()
    {
        var id = Interlocked.Increment(ref _nextId);
        await using var context = CreateWidgetContext();
        context.Add(new Widget { Id = id });
        await context.SaveChangesAsync();
        return id;
    }

    [Test]
    public async Task A_commit_that_fails_leaves_the_changes_pending_and_throws([Values] bool async, [Values] bool disableConcurrency)
    {
        var id = await AddWidget();
        await using var context = CreateWidgetContext();
        var widget = await context.Widgets.SingleAsync(w => w.Id == id);
        widget.ParentId = -1; // no such row: the deferred foreign key fails at COMMIT

        using (disableConcurrency ? new DisableConcurrency() : null)
        {
            if (async)
            {
                await Assert.ThatAsync(() => context.SaveChangesAsync(), Throws.InstanceOf<DbUpdateException>());
            }
            else
            {
                Assert.That(() => context.SaveChanges(), Throws.InstanceOf<DbUpdateException>());
            }
        }

        Assert.That(context.Entry(widget).State, Is.EqualTo(EntityState.Modified), "the change is still pending");
        Assert.That(widget.Version, Is.EqualTo(1), "the version this save tried is undone");

        await using var check = CreateWidgetContext();
        var stored = await check.Widgets.SingleAsync(w => w.Id == id);
        Assert.That(stored.ParentId, Is.Null);
        Assert.That(stored.Version, Is.EqualTo(1));

        widget.ParentId = null; // fixed by the user: the same context saves it
        await Save(context, async);
        Assert.That(widget.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Two_saves_of_the_same_rows_tracked_in_opposite_orders_do_not_deadlock([Values] bool disableConcurrency)
    {
        for (var round = 0; round < 5; round++)
        {
            var first = await AddWidget();
            var second = await AddWidget();

            await using var a = CreateWidgetContext();
            await using var b = CreateWidgetContext();
            var aWidgets = new[] { await a.Widgets.SingleAsync(w => w.Id == first), await a.Widgets.SingleAsync(w => w.Id == second) };
            var bWidgets = new[] { await b.Widgets.SingleAsync(w => w.Id == second), await b.Widgets.SingleAsync(w => w.Id == first) };
            foreach (var widget in aWidgets.Concat(bWidgets))
            {
                widget.ParentId = widget.Id; // any change
            }

            // Hold both rows, so both saves start and queue behind the holder; then let them race.
            await using var holder = OpenRawConnection();
            await using var hold = await holder.BeginTransactionAsync();
            await using (var command = holder.CreateCommand())
            {
                command.Transaction = hold;
                command.CommandText = $"UPDATE \"Widgets\" SET \"IsLocked\" = \"IsLocked\" WHERE \"Id\" IN ({first}, {second})";
                await command.ExecuteNonQueryAsync();
            }

            var saves = new[] { SaveOne(a, disableConcurrency), SaveOne(b, disableConcurrency) };
            await WaitUntilWaiting(saves);
            await hold.CommitAsync();

            var outcomes = await Task.WhenAll(saves);
            Assert.That(outcomes, Has.All.Matches<Exception?>(e => e is null or RecordModifiedException), "round " + round);
            Assert.That(outcomes.Count(e => e is null), disableConcurrency ? Is.EqualTo(2) : Is.GreaterThanOrEqualTo(1));
        }
    }

    private static async Task<Exception?> SaveOne(WidgetContext context, bool disableConcurrency)
    {
        await Task.Yield();
        using var scope = disableConcurrency ? new DisableConcurrency() : null;
        try
        {
            await context.SaveChangesAsync();
            return null;
        }
        catch (Exception exception)
        {
            return exception;
        }
    }

    /// <summary>Bounded wait until both saves are blocked behind the holder (PostgreSQL reports lock waits; SQLite is given a moment).</summary>
    private async Task WaitUntilWaiting(Task[] saves)
    {
        if (!IsPostgres)
        {
            await Task.Delay(200);
            return;
        }

        await using var monitor = OpenRawConnection();
        for (var i = 0; i < 200 && !saves.Any(s => s.IsCompleted); i++)
        {
            await using var command = monitor.CreateCommand();
            command.CommandText = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
            if (Convert.ToInt64(await command.ExecuteScalarAsync()) >= 2)
            {
                return;
            }

            await Task.Delay(25);
        }
    }
}
