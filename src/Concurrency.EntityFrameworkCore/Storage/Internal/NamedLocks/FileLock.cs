using System.Collections.Concurrent;
using System.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     An exclusive OS file lock (a <see cref="FileStream" /> opened with <see cref="FileShare.None" />: <c>flock</c> on
///     Linux and macOS, a sharing lock on Windows) on one small file per lock name, which the OS releases the moment the
///     holding process ends, however it ends. Waiters of this process queue on an in-process gate first (no polling among
///     them); the first in the queue tries the file with a short back-off (2 ms doubling to 100 ms), because no portable OS
///     call waits for a file lock with a timeout. Without a file (in-memory SQLite) the gate alone is the lock.
/// </summary>
internal sealed class FileLock
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan LongestDelay = TimeSpan.FromMilliseconds(100);
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim _gate;
    private FileStream? _file;

    private FileLock(SemaphoreSlim gate, FileStream? file)
    {
        _gate = gate;
        _file = file;
    }

    /// <summary>The lock on <paramref name="path" /> (or, when null, on <paramref name="gateKey" /> in this process only); null when <paramref name="timeout" /> ran out.</summary>
    public static async Task<FileLock?> AcquireAsync(string gateKey, string? path, TimeSpan? timeout, bool async, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var gate = Gates.GetOrAdd(gateKey, _ => new SemaphoreSlim(1, 1));
        var entered = async
            ? await gate.WaitAsync(timeout ?? Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false)
            : gate.Wait(timeout ?? Timeout.InfiniteTimeSpan, cancellationToken);
        if (!entered)
        {
            return null;
        }

        if (path is null)
        {
            return new FileLock(gate, null);
        }

        try
        {
            var delay = FirstDelay;
            while (true)
            {
                if (TryOpen(path) is { } file)
                {
                    return new FileLock(gate, file);
                }

                var left = timeout - Stopwatch.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    gate.Release();
                    return null;
                }

                var sleep = left is { } l && l < delay ? l : delay;
                if (async)
                {
                    await Task.Delay(sleep, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    cancellationToken.WaitHandle.WaitOne(sleep);
                    cancellationToken.ThrowIfCancellationRequested();
                }

                delay = delay * 2 < LongestDelay ? delay * 2 : LongestDelay;
            }
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    public void Release()
    {
        var file = Interlocked.Exchange(ref _file, null);
        file?.Dispose();
        _gate.Release();
    }

    private static FileStream? TryOpen(string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
            }
            catch (DirectoryNotFoundException) when (attempt == 1)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            }
            catch (IOException e) when (e is not DirectoryNotFoundException and not PathTooLongException)
            {
                return null; // held by another process
            }
        }
    }
}
