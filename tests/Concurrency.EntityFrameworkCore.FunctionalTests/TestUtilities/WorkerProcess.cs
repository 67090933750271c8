using System.Collections.Concurrent;
using System.Diagnostics;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

/// <summary>
///     One OS process running Concurrency.NamedLockWorker (built beside the tests): <c>dotnet Concurrency.NamedLockWorker.dll
///     provider connection-string name mode ...</c>. Its output lines are collected; <see cref="Kill" /> ends it like kill -9.
/// </summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = [];
    private readonly ConcurrentQueue<string> _errors = new();

    private WorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _lines.Add(e.Data);
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _errors.Enqueue(e.Data);
            }
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static WorkerProcess Start(Provider provider, string connectionString, string lockName, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Concurrency.NamedLockWorker.dll"));
        info.ArgumentList.Add(provider == Provider.Postgres ? "postgres" : "sqlite");
        info.ArgumentList.Add(connectionString);
        info.ArgumentList.Add(lockName);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return new WorkerProcess(new Process { StartInfo = info });
    }

    /// <summary>The next output line; fails the test (with the process's errors) if none comes within <paramref name="limit" />.</summary>
    public string NextLine(TimeSpan limit)
    {
        if (_lines.TryTake(out var line, limit))
        {
            return line;
        }

        Assert.Fail($"The worker printed nothing within {limit}. Exited: {_process.HasExited}. Errors: {string.Join(Environment.NewLine, _errors)}");
        return "";
    }

    /// <summary>Waits (bounded) for the process to end and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(cts.Token);
        Assert.That(_errors, Is.Empty, "the worker wrote errors");
        return _process.ExitCode;
    }

    /// <summary>Ends the process at once, without any cleanup of its own (SIGKILL on Linux).</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        _lines.Dispose();
    }
}
