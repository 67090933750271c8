using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Concurrency.TestSupport;

/// <summary>
///     Asks a Docker engine for <c>GET /_ping</c> on the endpoint Docker's own clients would use (DOCKER_HOST, else the usual
///     sockets), with a short timeout and without logging: no engine is a normal answer, not an error.
/// </summary>
public static class DockerProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>Whether the engine that DOCKER_HOST names, or else one on the usual sockets, answers within two seconds.</summary>
    public static bool Answers()
        => Answers(Environment.GetEnvironmentVariable("DOCKER_HOST"), Environment.GetEnvironmentVariable("DOCKER_TLS_VERIFY") is { Length: > 0 });

    /// <summary>Whether the engine at <paramref name="dockerHost" /> (unix:// or tcp://; null: the usual sockets) answers.</summary>
    /// <param name="dockerHost">A DOCKER_HOST value, or null.</param>
    /// <param name="tls">
    ///     The engine speaks TLS (DOCKER_TLS_VERIFY): then accepting the connection counts as answering, since the probe does not
    ///     carry the client certificate.
    /// </param>
    public static bool Answers(string? dockerHost, bool tls)
    {
        foreach (var endpoint in Endpoints(dockerHost))
        {
            if (Ping(endpoint, tls))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<EndPoint> Endpoints(string? dockerHost)
    {
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            // An engine named explicitly is the only one Docker's clients would use.
            if (Uri.TryCreate(dockerHost, UriKind.Absolute, out var uri))
            {
                if (uri.Scheme == "unix")
                {
                    yield return new UnixDomainSocketEndPoint(uri.AbsolutePath);
                }
                else if (uri.Scheme == "tcp")
                {
                    yield return new DnsEndPoint(uri.Host, uri.Port > 0 ? uri.Port : 2375);
                }
            }

            yield break;
        }

        if (OperatingSystem.IsWindows())
        {
            yield break;
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string?[] sockets =
        [
            "/var/run/docker.sock",
            Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime ? Path.Combine(runtime, "docker.sock") : null,
            Path.Combine(home, ".docker", "run", "docker.sock"),
            Path.Combine(home, ".docker", "desktop", "docker.sock"),
        ];
        foreach (var socket in sockets)
        {
            if (socket is not null && File.Exists(socket))
            {
                yield return new UnixDomainSocketEndPoint(socket);
            }
        }
    }

    private static bool Ping(EndPoint endpoint, bool tls)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            return PingAsync(endpoint, tls, timeout.Token).GetAwaiter().GetResult();
        }
        catch (Exception exception) when (exception is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<bool> PingAsync(EndPoint endpoint, bool tls, CancellationToken cancellationToken)
    {
        using var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        if (tls)
        {
            return true;
        }

        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"), cancellationToken).ConfigureAwait(false);
        var buffer = new byte[64];
        var read = await socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
        var status = Encoding.ASCII.GetString(buffer, 0, read);
        return status.StartsWith("HTTP/1.", StringComparison.Ordinal) && status.Contains(" 200 ", StringComparison.Ordinal);
    }
}
