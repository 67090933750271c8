using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>Version triggers in the SQL of EnsureCreated, migrations and hand-written migration operations.</summary>
public sealed class MigrationsSqlTests
{
    private static string Sql(bool postgres, IReadOnlyList<MigrationOperation> operations)
    {
        using var context = new ModelContext(m => m.Entity<Page>().ToTable("Pages"), postgres: postgres);
        var generator = context.GetService<IMigrationsSqlGenerator>();
        return string.Join("\n", generator.Generate(operations, context.Model).Select(c => c.CommandText));
    }

    [TestCase(false, "CREATE TRIGGER IF NOT EXISTS \"Pages_Version_version\" AFTER UPDATE ON \"Pages\"")]
    [TestCase(true, "CREATE OR REPLACE TRIGGER \"Pages_Version_version\" BEFORE UPDATE ON \"Pages\"")]
    public void The_create_script_of_a_context_creates_the_trigger_after_the_table(bool postgres, string expected)
    {
        using var context = new ModelContext(m => m.Entity<Page>().ToTable("Pages"), postgres: postgres);
        var script = context.Database.GenerateCreateScript();
        Assert.That(script, Does.Contain(expected));
        Assert.That(script.IndexOf(expected, StringComparison.Ordinal), Is.GreaterThan(script.IndexOf("CREATE TABLE", StringComparison.Ordinal)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_migration_that_alters_a_trigger_versioned_table_recreates_the_trigger_idempotently(bool postgres)
    {
        var sql = Sql(postgres, [new AddColumnOperation { Table = "Pages", Name = "Extra", ClrType = typeof(string), IsNullable = true }]);
        Assert.That(sql, Does.Contain("Pages_Version_version"));
        Assert.That(sql, Does.Contain(postgres ? "CREATE OR REPLACE TRIGGER" : "CREATE TRIGGER IF NOT EXISTS"));
    }

    [TestCase(true)] // SQLite drops columns by rebuilding the table, which needs the whole migration's model
    public void Dropping_a_column_drops_its_trigger_first_and_unrelated_tables_get_no_trigger(bool postgres)
    {
        var sql = Sql(postgres, [new DropColumnOperation { Table = "Pages", Name = "Version" }]);
        Assert.That(sql.IndexOf("DROP TRIGGER IF EXISTS \"Pages_Version_version\"", StringComparison.Ordinal), Is.EqualTo(0));
        Assert.That(Sql(postgres, [new AddColumnOperation { Table = "Others", Name = "X", ClrType = typeof(int) }]), Does.Not.Contain("TRIGGER"));
    }

    [TestCase("Microsoft.EntityFrameworkCore.Sqlite", "CREATE TRIGGER IF NOT EXISTS \"Docs_Rev_version\"")]
    [TestCase("Npgsql.EntityFrameworkCore.PostgreSQL", "CREATE OR REPLACE TRIGGER \"Docs_Rev_version\" BEFORE UPDATE ON \"app\".\"Docs\"")]
    public void Hand_written_migrations_get_the_active_providers_SQL(string provider, string expected)
    {
        var builder = new MigrationBuilder(provider);
        builder.CreateVersionTrigger("Docs", "Rev", schema: provider.StartsWith("Npgsql", StringComparison.Ordinal) ? "app" : null);
        builder.DropVersionTrigger("Docs", "Rev");
        var sql = builder.Operations.OfType<SqlOperation>().Select(o => o.Sql).ToList();
        Assert.That(sql, Has.Some.Contains(expected));
        Assert.That(sql.Last(), Does.StartWith("DROP"));
    }

    [Test]
    public void Hand_written_migrations_on_another_provider_fail_with_the_supported_ones()
    {
        var exception = Assert.Throws<NotSupportedException>(() => new MigrationBuilder("Microsoft.EntityFrameworkCore.SqlServer").CreateVersionTrigger("Docs", "Rev"));
        Assert.That(exception!.Message, Does.Contain("SqlServer").And.Contain("PostgreSQL").And.Contain("[VersionField]"));
    }

    [Test]
    public void Long_trigger_names_are_shortened_to_63_characters_stably()
    {
        var name = Storage.Internal.DatabaseDialect.TriggerName(new string('t', 60), "Version");
        Assert.That(name, Has.Length.EqualTo(63));
        Assert.That(Storage.Internal.DatabaseDialect.TriggerName(new string('t', 60), "Version"), Is.EqualTo(name));
        Assert.That(Storage.Internal.DatabaseDialect.TriggerName(new string('t', 60), "Version2"), Is.Not.EqualTo(name));
    }

    [Test]
    public void The_decorator_wraps_the_providers_generator()
    {
        using var context = new ModelContext(m => m.Entity<Page>().ToTable("Pages"));
        Assert.That(context.GetService<IMigrationsSqlGenerator>().GetType().Name, Is.EqualTo("VersionTriggerMigrationsSqlGenerator"));
        Assert.That(context.GetService<IDatabaseProvider>().Name, Is.EqualTo("Microsoft.EntityFrameworkCore.Sqlite"));
    }
}
