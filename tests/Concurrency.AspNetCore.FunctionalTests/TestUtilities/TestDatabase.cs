using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.Data.Sqlite;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

/// <summary>A fresh database for one fixture: a database on the PostgreSQL test server, or a SQLite file in the temp folder.</summary>
public sealed class TestDatabase
{
    private readonly Provider _provider;
    private readonly string? _sqliteFile;

    private TestDatabase(Provider provider, string connectionString, string? sqliteFile)
    {
        _provider = provider;
        ConnectionString = connectionString;
        _sqliteFile = sqliteFile;
    }

    public string ConnectionString { get; }

    public static TestDatabase Create(Provider provider, string name)
    {
        if (provider == Provider.Postgres)
        {
            return new TestDatabase(provider, PostgresServer.CreateDatabase(name), null);
        }

        var file = Path.Combine(Path.GetTempPath(), $"concurrency-{name}-{Guid.NewGuid():N}.db");
        return new TestDatabase(provider, new SqliteConnectionStringBuilder { DataSource = file, DefaultTimeout = 60 }.ToString(), file);
    }

    public void Drop()
    {
        if (_provider == Provider.Postgres)
        {
            PostgresServer.DropDatabase(ConnectionString);
        }
        else if (_sqliteFile is not null)
        {
            SqliteConnection.ClearAllPools();
            File.Delete(_sqliteFile);
        }
    }
}
