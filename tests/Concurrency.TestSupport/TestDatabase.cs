using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.TestSupport;

/// <summary>
///     One real database for one test fixture: a new PostgreSQL database on <see cref="PostgresServer" />, or a new SQLite
///     file in the temp folder. Disposing drops the database or deletes the file.
/// </summary>
public sealed class TestDatabase : IDisposable
{
    private readonly string? _sqliteFile;

    private TestDatabase(Provider provider, string connectionString, string? sqliteFile)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _sqliteFile = sqliteFile;
    }

    public Provider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>Creates an empty database whose name starts with <paramref name="name" /> (the fixture's, usually).</summary>
    public static TestDatabase Create(Provider provider, string name)
    {
        if (provider == Provider.Postgres)
        {
            return new TestDatabase(provider, PostgresServer.CreateDatabase(name), null);
        }

        var file = Path.Combine(Path.GetTempPath(), $"concurrency-{name}-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = file, DefaultTimeout = 60 }.ToString();
        return new TestDatabase(provider, connectionString, file);
    }

    /// <summary>Points <paramref name="builder" /> at this database (UseNpgsql or UseSqlite) and returns it.</summary>
    public TBuilder Configure<TBuilder>(TBuilder builder)
        where TBuilder : DbContextOptionsBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (Provider == Provider.Postgres)
        {
            builder.UseNpgsql(ConnectionString);
        }
        else
        {
            builder.UseSqlite(ConnectionString);
        }

        return builder;
    }

    /// <summary>Opens a plain ADO.NET connection, outside EF and this library.</summary>
    public DbConnection OpenConnection()
    {
        DbConnection connection = Provider == Provider.Postgres ? new NpgsqlConnection(ConnectionString) : new SqliteConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    /// <summary>Runs raw SQL on its own connection, as another client (psql, another service) would.</summary>
    public int Execute(string sql)
    {
        using var connection = OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        if (Provider == Provider.Postgres)
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
