namespace Concurrency.TestSupport;

/// <summary>Where the tests' PostgreSQL comes from.</summary>
public enum PostgresSourceKind
{
    /// <summary>The server named by <see cref="PostgresSource.EnvironmentVariable" />.</summary>
    EnvironmentVariable,

    /// <summary>A throwaway container started by Testcontainers, because a Docker engine answered.</summary>
    Testcontainers,

    /// <summary>A throwaway cluster started from the installed server binaries (initdb + pg_ctl).</summary>
    LocalBinaries,
}

/// <summary>The chosen source of the tests' PostgreSQL, with what is needed to start it.</summary>
/// <param name="Kind">Which source.</param>
/// <param name="ConnectionString">For <see cref="PostgresSourceKind.EnvironmentVariable" />: the server to use.</param>
/// <param name="BinDirectory">For <see cref="PostgresSourceKind.LocalBinaries" />: the folder holding initdb and pg_ctl.</param>
public sealed record PostgresSource(PostgresSourceKind Kind, string? ConnectionString = null, string? BinDirectory = null)
{
    public const string EnvironmentVariable = "CONCURRENCY_TEST_POSTGRES";

    /// <summary>
    ///     Chooses, in this order: the server in <see cref="EnvironmentVariable" /> if it is set; else a Testcontainers
    ///     container when a Docker engine answers; else a throwaway cluster from the local server binaries; else fails with
    ///     how to provide one. The probes run only when the earlier choices are not available, so a set variable never waits
    ///     for Docker.
    /// </summary>
    /// <param name="environmentValue">The value of <see cref="EnvironmentVariable" />, or null.</param>
    /// <param name="dockerAnswers">Whether a Docker engine answers (quickly; never hangs).</param>
    /// <param name="findServerBinaries">The folder holding initdb and pg_ctl, or null.</param>
    public static PostgresSource Choose(string? environmentValue, Func<bool> dockerAnswers, Func<string?> findServerBinaries)
    {
        ArgumentNullException.ThrowIfNull(dockerAnswers);
        ArgumentNullException.ThrowIfNull(findServerBinaries);

        if (!string.IsNullOrWhiteSpace(environmentValue))
        {
            return new PostgresSource(PostgresSourceKind.EnvironmentVariable, ConnectionString: environmentValue);
        }

        if (dockerAnswers())
        {
            return new PostgresSource(PostgresSourceKind.Testcontainers);
        }

        return findServerBinaries() is { } binDirectory
            ? new PostgresSource(PostgresSourceKind.LocalBinaries, BinDirectory: binDirectory)
            : throw new InvalidOperationException(
                "No PostgreSQL for the tests. Provide one of: "
                + $"{EnvironmentVariable}, a connection string of a server whose user may create databases"
                + " (e.g. 'Host=127.0.0.1;Username=postgres;Password=...'); "
                + "a running Docker engine, for a throwaway container (Testcontainers); "
                + "or the PostgreSQL server binaries (Debian/Ubuntu: apt-get install -y postgresql), for a throwaway cluster.");
    }

    /// <summary>What the test log says about this source.</summary>
    public string Describe()
        => Kind switch
        {
            PostgresSourceKind.EnvironmentVariable => $"the server in {EnvironmentVariable}",
            PostgresSourceKind.Testcontainers => "a throwaway Docker container (Testcontainers)",
            _ => $"a throwaway cluster from the server binaries in {BinDirectory}",
        };
}
