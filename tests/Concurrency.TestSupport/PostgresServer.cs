using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Testcontainers.PostgreSql;

namespace Concurrency.TestSupport;

/// <summary>
///     A real PostgreSQL for the tests and benchmarks, from the first source available (see <see cref="PostgresSource.Choose" />):
///     the server named by CONCURRENCY_TEST_POSTGRES; a throwaway container (Testcontainers) when a Docker engine answers;
///     or a throwaway cluster started from the installed server binaries (initdb + pg_ctl, data in a temp folder, a free
///     port on 127.0.0.1, fsync off), run as the 'postgres' OS user when the tests run as root. What it started is stopped
///     by <see cref="StopIfStarted" /> when the run ends.
/// </summary>
public static class PostgresServer
{
    public const string EnvironmentVariable = PostgresSource.EnvironmentVariable;

    private static readonly Lazy<Server> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databaseCounter;

    /// <summary>The connection string of the maintenance database.</summary>
    public static string ConnectionString
        => Instance.Value.ConnectionString;

    /// <summary>Which source is used (see <see cref="PostgresSource.Describe" />), for a log outside NUnit.</summary>
    public static string Description
        => Instance.Value.Description;

    /// <summary>Creates a new, empty database and returns its connection string.</summary>
    public static string CreateDatabase(string prefix)
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databaseCounter)}".ToLowerInvariant();
        using (var connection = new NpgsqlConnection(ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"DROP DATABASE IF EXISTS \"{name}\"; ";
            command.ExecuteNonQuery();
            command.CommandText = $"CREATE DATABASE \"{name}\"";
            command.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name, MaxPoolSize = 60 }.ConnectionString;
    }

    public static void DropDatabase(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        using var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)";
        command.ExecuteNonQuery();
    }

    public static void StopIfStarted()
    {
        if (Instance.IsValueCreated)
        {
            Instance.Value.Dispose();
        }
    }

    private static Server Start()
    {
        var source = PostgresSource.Choose(Environment.GetEnvironmentVariable(EnvironmentVariable), DockerProbe.Answers, FindBinDirectory);

        // Shown by `dotnet test` at normal verbosity; outside a test run NUnit drops it, so the benchmarks print Description.
        TestContext.Progress.WriteLine($"PostgreSQL for the tests: {source.Describe()}.");
        var server = source.Kind switch
        {
            PostgresSourceKind.EnvironmentVariable => new Server(source.ConnectionString!, null),
            PostgresSourceKind.Testcontainers => StartContainer(),
            _ => StartCluster(source.BinDirectory!),
        };
        server.Description = source.Describe();
        return server;
    }

    /// <summary>The same settings as the local cluster: durability off (a throwaway database), connections for parallel fixtures.</summary>
    private static Server StartContainer()
    {
        var container = new PostgreSqlBuilder("postgres:17-alpine")
            .WithCommand("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=300")
            .Build();
        container.StartAsync().GetAwaiter().GetResult();
        var connectionString = new NpgsqlConnectionStringBuilder(container.GetConnectionString())
        {
            Database = "postgres",
            Pooling = true,
            Timeout = 30,
        }.ConnectionString;
        return new Server(connectionString, () => container.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    private static Server StartCluster(string binDirectory)
    {
        var root = Path.Combine(Path.GetTempPath(), "concurrency-pg-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", ["-R", "postgres:postgres", root], null);
        }

        var port = FreePort();
        var log = Path.Combine(root, "server.log");
        RunPg(binDirectory, "initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--locale=C"], asRoot);
        RunPg(
            binDirectory,
            "pg_ctl",
            [
                "-D", data, "-l", log, "-w", "-t", "60", "-o",
                $"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                "start",
            ],
            asRoot);

        var connectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Timeout=30";
        return new Server(connectionString, () => StopCluster(binDirectory, root, asRoot));
    }

    private static void StopCluster(string binDirectory, string root, bool asRoot)
    {
        try
        {
            RunPg(binDirectory, "pg_ctl", ["-D", Path.Combine(root, "data"), "-m", "immediate", "-w", "stop"], asRoot);
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder is harmless.
            }
        }
    }

    private static string? FindBinDirectory()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")))
            {
                return directory;
            }
        }

        const string debian = "/usr/lib/postgresql";
        return Directory.Exists(debian)
            ? Directory.GetDirectories(debian)
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .FirstOrDefault()
            : null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void RunPg(string binDirectory, string tool, string[] arguments, bool asRoot)
    {
        var path = Path.Combine(binDirectory, tool);
        if (asRoot)
        {
            Run("runuser", ["-u", "postgres", "--", path, .. arguments], null);
        }
        else
        {
            Run(path, arguments, null);
        }
    }

    private static void Run(string fileName, string[] arguments, string? workingDirectory)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} did not finish within 120 s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {stdout.Result} {stderr.Result}"
                + " Set CONCURRENCY_TEST_POSTGRES to use an existing PostgreSQL server instead.");
        }
    }

    private sealed class Server(string connectionString, Action? stop) : IDisposable
    {
        public string ConnectionString { get; } = connectionString;

        public string Description { get; set; } = "";

        public void Dispose()
        {
            if (stop is null)
            {
                return;
            }

            NpgsqlConnection.ClearAllPools();
            stop();
        }
    }
}
