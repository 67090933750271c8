using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

public class MigratedPage
{
    public int Id { get; set; }

    public string Content { get; set; } = "";

    [TriggerVersionField]
    public long Version { get; set; }
}

public class MigratedContext(DbContextOptions<MigratedContext> options) : DbContext(options)
{
    public DbSet<MigratedPage> Pages => Set<MigratedPage>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<MigratedPage>().ToTable("MigratedPages");
        modelBuilder.UseVersioning();
    }
}

/// <summary>What 'dotnet ef migrations add' writes for MigratedContext: no trigger in Up, the version annotation in the target model.</summary>
[DbContext(typeof(MigratedContext))]
[Migration("20261123000000_Initial")]
public class InitialMigration : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
        => migrationBuilder.CreateTable(
            name: "MigratedPages",
            columns: table => new
            {
                Id = table.Column<int>(nullable: false),
                Content = table.Column<string>(nullable: false),
                Version = table.Column<long>(nullable: false, defaultValue: 1L),
            },
            constraints: table => table.PrimaryKey("PK_MigratedPages", x => x.Id));

    protected override void BuildTargetModel(ModelBuilder modelBuilder)
        => modelBuilder.Entity("Concurrency.EntityFrameworkCore.FunctionalTests.MigratedPage", b =>
        {
            b.Property<int>("Id").ValueGeneratedOnAdd();
            b.Property<string>("Content").IsRequired();
            b.Property<long>("Version").IsConcurrencyToken().ValueGeneratedOnAddOrUpdate().HasDefaultValue(1L)
                .HasAnnotation("Concurrency:VersionField", "Trigger");
            b.HasKey("Id");
            b.ToTable("MigratedPages");
        });
}

/// <summary>Applying a migration through a context configured with UseConcurrency() creates the version triggers.</summary>
public sealed class MigrationTests(Provider provider) : DatabaseTestBase(provider)
{
    private MigratedContext CreateMigratedContext()
    {
        var builder = new DbContextOptionsBuilder<MigratedContext>();
        if (IsPostgres)
        {
            builder.UseNpgsql(ConnectionString);
        }
        else
        {
            builder.UseSqlite(ConnectionString);
        }

        return new MigratedContext(builder.UseConcurrency().Options);
    }

    [Test]
    public async Task Migrate_creates_the_trigger_and_raw_SQL_updates_bump_the_version()
    {
        await using (var context = CreateMigratedContext())
        {
            await context.Database.MigrateAsync();
            await context.Database.VerifyVersionTriggersAsync();
            context.Pages.Add(new MigratedPage { Id = 1, Content = "c" });
            await context.SaveChangesAsync();
        }

        ExecuteRaw("UPDATE \"MigratedPages\" SET \"Content\" = 'raw' WHERE \"Id\" = 1");

        await using (var context = CreateMigratedContext())
        {
            var page = await context.Pages.SingleAsync();
            Assert.That(page.Version, Is.EqualTo(2));
        }
    }
}
