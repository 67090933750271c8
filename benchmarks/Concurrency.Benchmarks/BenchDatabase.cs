using Concurrency.TestSupport;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>A fresh PostgreSQL database from the tests' fixture, seeded with the same rows in every variant's table.</summary>
public sealed class BenchDatabase : IDisposable
{
    public const int SeedRows = 1000;

    public static readonly string[] Tables =
    [
        "plain_rows", "token_rows", "xmin_rows", "version_rows", "conditional_rows", "conditional_rows_b", "trigger_rows",
        "raw_versioned_rows", "raw_plain_rows", "raw_trigger_rows", "bulk_plain_rows", "bulk_version_rows", "bulk_version_rows_b",
    ];

    private static readonly string[] Unversioned = ["plain_rows", "xmin_rows", "bulk_plain_rows", "delete_plain_rows"];

    private readonly TestDatabase _database = TestDatabase.Create(Provider.Postgres, "bench");

    public BenchDatabase()
    {
        WithConcurrency = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(ConnectionString).UseConcurrency().Options;
        WithConcurrencyNoBump = new DbContextOptionsBuilder<BenchContext>()
            .UseNpgsql(ConnectionString)
            .UseConcurrency(o => o.BumpVersionsInExecuteUpdate(false))
            .Options;
        PlainEf = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(ConnectionString).Options;
        PlainEfCounted = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(ConnectionString).AddInterceptors(Commands).Options;
        RowLocks = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(ConnectionString).UseConcurrency().UseRowLocks().AddInterceptors(Commands).Options;

        using (var context = new BenchContext(WithConcurrency))
        {
            context.Database.EnsureCreated();
        }

        foreach (var table in Tables)
        {
            var version = Unversioned.Contains(table) ? "" : ", \"Version\"";
            var versionValue = Unversioned.Contains(table) ? "" : ", 1";
            Execute(
                $"INSERT INTO {table} (\"Id\", \"A\", \"B\", \"C\", \"D\"{version}) "
                + $"SELECT i, 'a' || i, 'b' || i, i, TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute'{versionValue} FROM generate_series(1, {SeedRows}) i");
        }

        Execute("VACUUM ANALYZE");
    }

    public string ConnectionString
        => _database.ConnectionString;

    /// <summary>The library on.</summary>
    public DbContextOptions<BenchContext> WithConcurrency { get; }

    /// <summary>The library on, without the ExecuteUpdate version bump.</summary>
    public DbContextOptions<BenchContext> WithConcurrencyNoBump { get; }

    /// <summary>Plain EF Core, for the baseline, EF's own token and xmin variants.</summary>
    public DbContextOptions<BenchContext> PlainEf { get; }

    /// <summary>Counts the commands sent through <see cref="PlainEfCounted" /> and <see cref="RowLocks" />.</summary>
    public CommandCounter Commands { get; } = new();

    /// <summary>Plain EF Core with the command counter (the FromSql baselines of the row-lock groups).</summary>
    public DbContextOptions<BenchContext> PlainEfCounted { get; private set; }

    /// <summary>The library with row locks on PostgreSQL (<c>UseConcurrency().UseRowLocks()</c>), with the command counter.</summary>
    public DbContextOptions<BenchContext> RowLocks { get; private set; }

    /// <summary>Raw connections and the row-lock options go through this data source when set (the profile logs through it).</summary>
    public NpgsqlDataSource? DataSource { get; private set; }

    /// <summary>Sends the raw connections and both row-lock options (<see cref="RowLocks" />, <see cref="PlainEfCounted" />) through <paramref name="dataSource" />.</summary>
    public void UseDataSource(NpgsqlDataSource dataSource)
    {
        DataSource = dataSource;
        PlainEfCounted = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(dataSource).AddInterceptors(Commands).Options;
        RowLocks = new DbContextOptionsBuilder<BenchContext>().UseNpgsql(dataSource).UseConcurrency().UseRowLocks().AddInterceptors(Commands).Options;
    }

    /// <summary>A new, closed connection for a raw Npgsql variant.</summary>
    public NpgsqlConnection OpenRawConnection()
        => DataSource?.CreateConnection() ?? new NpgsqlConnection(ConnectionString);

    /// <summary>Removes dead rows left by earlier rounds, so every variant's table starts each round in the same state.</summary>
    public void Vacuum()
        => Execute("VACUUM");

    public int Execute(string sql)
        => _database.Execute(sql);

    public void Dispose()
        => _database.Dispose();
}
