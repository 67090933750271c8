using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

public enum Provider
{
    Sqlite,
    Postgres,
}

/// <summary>Runs every test of a derived class against a real SQLite file database and a real PostgreSQL database.</summary>
[TestFixture(Provider.Sqlite)]
[TestFixture(Provider.Postgres)]
[Parallelizable(ParallelScope.Fixtures)]
public abstract class DatabaseTestBase(Provider provider)
{
    private string _connectionString = null!;
    private string? _sqliteFile;

    protected Provider Provider { get; } = provider;

    protected bool IsPostgres
        => Provider == Provider.Postgres;

    [OneTimeSetUp]
    public void CreateDatabase()
    {
        if (IsPostgres)
        {
            _connectionString = PostgresServer.CreateDatabase(GetType().Name);
        }
        else
        {
            _sqliteFile = Path.Combine(Path.GetTempPath(), $"concurrency-{GetType().Name}-{Guid.NewGuid():N}.db");
            _connectionString = new SqliteConnectionStringBuilder { DataSource = _sqliteFile, DefaultTimeout = 60 }.ToString();
        }

        using var context = CreateContext();
        context.Database.EnsureCreated();
    }

    [OneTimeTearDown]
    public void DropDatabase()
    {
        if (IsPostgres)
        {
            PostgresServer.DropDatabase(_connectionString);
        }
        else if (_sqliteFile is not null)
        {
            SqliteConnection.ClearAllPools();
            File.Delete(_sqliteFile);
        }
    }

    protected string ConnectionString
        => _connectionString;

    protected DbContextOptionsBuilder<VersionedContext> Configure(DbContextOptionsBuilder<VersionedContext> builder)
        => IsPostgres ? builder.UseNpgsql(_connectionString) : builder.UseSqlite(_connectionString);

    protected VersionedContext CreateContext(params IInterceptor[] interceptors)
    {
        var builder = Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency();
        if (interceptors.Length > 0)
        {
            builder.AddInterceptors(interceptors);
        }

        return new VersionedContext(builder.Options);
    }

    protected DbConnection OpenRawConnection()
    {
        DbConnection connection = IsPostgres ? new NpgsqlConnection(_connectionString) : new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Runs raw SQL on its own connection, as another client (psql, another service) would.</summary>
    protected int ExecuteRaw(string sql)
    {
        using var connection = OpenRawConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    protected async Task<T> Add<T>(T entity)
        where T : class
    {
        await using var context = CreateContext();
        context.Add(entity);
        await context.SaveChangesAsync();
        return entity;
    }

    protected static Task<int> Save(DbContext context, bool async)
        => async ? context.SaveChangesAsync() : Task.FromResult(context.SaveChanges());

    protected static Task<RecordModifiedException> ThrowsConflict(DbContext context, bool async)
        => SaveThrows<RecordModifiedException>(context, async);

    /// <summary>Saves and returns the exception of type <typeparamref name="TException" />; fails the test if the save succeeds.</summary>
    protected static async Task<TException> SaveThrows<TException>(DbContext context, bool async)
        where TException : Exception
    {
        try
        {
            await Save(context, async);
        }
        catch (TException exception)
        {
            return exception;
        }

        Assert.Fail($"SaveChanges succeeded, but a {typeof(TException).Name} was expected.");
        throw new InvalidOperationException("unreachable");
    }
}
