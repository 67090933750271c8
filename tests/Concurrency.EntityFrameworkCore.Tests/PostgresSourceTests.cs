using System.Net;
using System.Net.Sockets;
using System.Text;
using Concurrency.TestSupport;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>
///     Where the functional tests' PostgreSQL comes from: CONCURRENCY_TEST_POSTGRES, else Testcontainers when Docker answers,
///     else the local server binaries, else a failure that says how to provide one. No Docker engine is needed: the probes
///     are inputs here, and the Docker probe is tried against stand-ins on 127.0.0.1.
/// </summary>
public sealed class PostgresSourceTests
{
    private const string Server = "Host=db.example;Username=postgres;Password=secret";

    [Test]
    public void The_environment_variable_wins_and_nothing_is_probed()
    {
        var source = PostgresSource.Choose(Server, () => throw new AssertionException("Docker probed"), () => throw new AssertionException("binaries probed"));

        Assert.That(source, Is.EqualTo(new PostgresSource(PostgresSourceKind.EnvironmentVariable, ConnectionString: Server)));
        Assert.That(source.Describe(), Does.Contain("CONCURRENCY_TEST_POSTGRES").And.Not.Contain("secret"), "the log does not show the password");
    }

    [TestCase("")]
    [TestCase("  ")]
    [TestCase(null)]
    public void An_empty_environment_variable_counts_as_unset(string? value)
        => Assert.That(PostgresSource.Choose(value, () => true, () => "/usr/bin").Kind, Is.EqualTo(PostgresSourceKind.Testcontainers));

    [Test]
    public void Docker_comes_before_the_local_binaries_which_are_then_not_looked_for()
        => Assert.That(
            PostgresSource.Choose(null, () => true, () => throw new AssertionException("binaries probed")),
            Is.EqualTo(new PostgresSource(PostgresSourceKind.Testcontainers)));

    [Test]
    public void Without_Docker_the_local_binaries_start_a_cluster()
    {
        var source = PostgresSource.Choose(null, () => false, () => "/usr/lib/postgresql/17/bin");

        Assert.That(source, Is.EqualTo(new PostgresSource(PostgresSourceKind.LocalBinaries, BinDirectory: "/usr/lib/postgresql/17/bin")));
        Assert.That(source.Describe(), Does.Contain("/usr/lib/postgresql/17/bin"));
    }

    [Test]
    public void Without_any_source_the_failure_says_how_to_provide_one()
    {
        var exception = Assert.Throws<InvalidOperationException>(() => PostgresSource.Choose(null, () => false, () => null))!;

        Assert.That(exception.Message, Does.Contain("CONCURRENCY_TEST_POSTGRES"));
        Assert.That(exception.Message, Does.Contain("Docker"));
        Assert.That(exception.Message, Does.Contain("apt-get install -y postgresql"));
    }

    [Test]
    public void The_docker_probe_is_false_for_a_socket_that_does_not_exist()
        => Assert.That(DockerProbe.Answers($"unix://{Path.GetTempPath()}no-docker-{Guid.NewGuid():N}.sock", tls: false), Is.False);

    [Test]
    public void The_docker_probe_is_false_when_nothing_listens()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        Assert.That(DockerProbe.Answers($"tcp://127.0.0.1:{port}", tls: false), Is.False);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task The_docker_probe_gives_up_on_a_server_that_accepts_and_never_answers()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var host = $"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";

        var answers = await Task.Run(() => DockerProbe.Answers(host, tls: false));

        Assert.That(answers, Is.False);
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task The_docker_probe_is_true_for_an_engine_that_answers_the_ping()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var host = $"tcp://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        var engine = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var request = new byte[256];
            var read = await stream.ReadAsync(request);
            var response = Encoding.ASCII.GetString(request, 0, read).StartsWith("GET /_ping ", StringComparison.Ordinal)
                ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
                : "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
        });

        var answers = await Task.Run(() => DockerProbe.Answers(host, tls: false));
        await engine;

        Assert.That(answers, Is.True);
    }
}
