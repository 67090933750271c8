using System.ComponentModel;
using System.Runtime.CompilerServices;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     A model whose entities all notify their changes: EF then never runs DetectChanges, so versions must be bumped
///     without waiting for it (a lost-update hole if the interceptor waited for an event that never comes).
/// </summary>
public sealed class NotificationTrackingTests(Provider provider) : DatabaseTestBase(provider)
{
    public sealed class Notified : INotifyPropertyChanged, INotifyPropertyChanging
    {
        private string _title = "";
        private long _version;

        public event PropertyChangedEventHandler? PropertyChanged;

        public event PropertyChangingEventHandler? PropertyChanging;

        public int Id { get; set; }

        public string Title
        {
            get => _title;
            set => Set(ref _title, value);
        }

        [VersionField]
        public long Version
        {
            get => _version;
            set => Set(ref _version, value);
        }

        private void Set<T>(ref T field, T value, [CallerMemberName] string name = "")
        {
            PropertyChanging?.Invoke(this, new PropertyChangingEventArgs(name));
            field = value;
            PropertyChanged?.Invoke(this, new PropertyChangedEventArgs(name));
        }
    }

    public sealed class NotifyingContext(DbContextOptions options) : DbContext(options)
    {
        public DbSet<Notified> Items => Set<Notified>();

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            modelBuilder.HasChangeTrackingStrategy(ChangeTrackingStrategy.ChangingAndChangedNotifications);
            modelBuilder.Entity<Notified>().ToTable("NotifiedItems");
            modelBuilder.UseVersioning();
        }
    }

    private NotifyingContext CreateNotifyingContext()
        => new((IsPostgres
                ? new DbContextOptionsBuilder<NotifyingContext>().UseNpgsql(ConnectionString)
                : new DbContextOptionsBuilder<NotifyingContext>().UseSqlite(ConnectionString))
            .UseConcurrency()
            .Options);

    [OneTimeSetUp]
    public void CreateTable()
    {
        using var context = CreateNotifyingContext();
        context.GetService<IRelationalDatabaseCreator>().CreateTables();
    }

    [Test]
    public async Task Versions_are_bumped_and_checked_although_EF_runs_no_DetectChanges([Values] bool async)
    {
        int id;
        await using (var setup = CreateNotifyingContext())
        {
            var item = new Notified { Title = "start" };
            setup.Add(item);
            await setup.SaveChangesAsync();
            id = item.Id;
        }

        await using var a = CreateNotifyingContext();
        await using var b = CreateNotifyingContext();
        var fromA = await a.Items.SingleAsync(x => x.Id == id);
        var fromB = await b.Items.SingleAsync(x => x.Id == id);

        fromA.Title = "a";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));

        fromB.Title = "b";
        var conflict = await ThrowsConflict(b, async);
        Assert.That((conflict.ExpectedVersion, conflict.ActualVersion), Is.EqualTo((1L, 2L)));

        // EF records no loaded Title under this strategy: merging is refused with the fix; giving up the change works.
        var resolution = conflict.Conflicts.Single();
        Assert.That(resolution.ProposedValues[nameof(Notified.Title)], Is.EqualTo("b"));
        Assert.That(resolution.OriginalValues[nameof(Notified.Version)], Is.EqualTo(1L));
        var refused = Assert.Throws<InvalidOperationException>(() => resolution.Merge(c => c.ProposedValue));
        Assert.That(refused!.Message, Does.Contain("ChangingAndChangedNotificationsWithOriginalValues"));
        await resolution.KeepDatabaseValuesAsync();
        Assert.That((fromB.Title, fromB.Version), Is.EqualTo(("a", 2L)));
        fromB.Title = "b again";
        await Save(b, async);

        await using var check = CreateNotifyingContext();
        var stored = await check.Items.AsNoTracking().SingleAsync(x => x.Id == id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("b again", 3L)));
    }
}
