using Microsoft.EntityFrameworkCore;

namespace Concurrency.TestSupport;

/// <summary>
///     Runs every test of a derived class twice, against a real SQLite file database and a real PostgreSQL database, with
///     one new database per fixture: created before the derived class's one-time setup, dropped after its one-time teardown.
/// </summary>
[TestFixture(Provider.Sqlite)]
[TestFixture(Provider.Postgres)]
[Parallelizable(ParallelScope.Fixtures)]
public abstract class DatabasePerFixture(Provider provider)
{
    private TestDatabase? _database;

    protected Provider Provider { get; } = provider;

    protected bool IsPostgres
        => Provider == Provider.Postgres;

    /// <summary>This fixture's database.</summary>
    protected TestDatabase Database
        => _database ?? throw new InvalidOperationException("The fixture's database is created in its one-time setup.");

    protected string ConnectionString
        => Database.ConnectionString;

    /// <summary>The start of the database's name. Defaults to the fixture's class name.</summary>
    protected virtual string DatabaseName
        => GetType().Name;

    [OneTimeSetUp]
    public void CreateDatabase()
        => _database = TestDatabase.Create(Provider, DatabaseName);

    [OneTimeTearDown]
    public void DropDatabase()
        => _database?.Dispose();

    /// <summary>Adds <paramref name="entity" /> with <paramref name="context" />, saves, disposes the context and returns the entity.</summary>
    protected static async Task<T> SaveNew<T>(DbContext context, T entity)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        await using (context)
        {
            context.Add(entity);
            await context.SaveChangesAsync();
        }

        return entity;
    }
}
