using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

/// <summary>What an import handler reports: the lock it ran under and whether the lock was lost while it waited.</summary>
public sealed record ImportResult(string LockName, long FencingToken, bool Lost);

/// <summary>
///     Holds import handlers inside their lock until the test opens the gate, and records which ones entered, so a test
///     can have one request hold a lock while others arrive.
/// </summary>
public sealed class ImportGate
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _open = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _entered = new();
    private readonly ConcurrentQueue<string> _entries = new();

    /// <summary>The keys of the handlers that ran, in the order they entered.</summary>
    public IReadOnlyCollection<string> Entries
        => _entries;

    private static TaskCompletionSource NewSource(string key)
        => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a handler for <paramref name="key" /> has entered (it then holds its lock).</summary>
    public Task Entered(string key)
        => _entered.GetOrAdd(key, NewSource).Task;

    /// <summary>Lets the handlers for <paramref name="key" /> finish, now and later.</summary>
    public void Open(string key)
        => _open.GetOrAdd(key, NewSource).TrySetResult();

    /// <summary>Called by a handler under its lock: records the entry and waits for the gate (or the token).</summary>
    public async Task PassAsync(string key, CancellationToken cancellationToken)
    {
        _entries.Enqueue(key);
        _entered.GetOrAdd(key, NewSource).TrySetResult();
        await _open.GetOrAdd(key, NewSource).Task.WaitAsync(cancellationToken);
    }
}

/// <summary>Import endpoints that run one at a time per id under <c>RequireNamedLock</c>.</summary>
public static class ImportEndpoints
{
    public static void MapImportEndpoints(this WebApplication app)
    {
        // Does not wait: a second import of the same id is answered as busy.
        app.MapPost("/imports/{id}", (string id, HttpContext http, ImportGate gate, CancellationToken ct) => RunAsync("now:" + id, http, gate, ct))
            .RequireNamedLock<WebContext>("import:{id}");

        // Waits up to 30 seconds for the lock, then runs.
        app.MapPost("/queued/imports/{id}", (string id, HttpContext http, ImportGate gate, CancellationToken ct) => RunAsync("queued:" + id, http, gate, ct))
            .RequireNamedLock<WebContext>("import:{id}", TimeSpan.FromSeconds(30));

        // Placeholders from two route values and literal braces, on a group.
        app.MapGroup("/feeds/{feed}").RequireNamedLock<WebContext>("{{feed}}:{feed}")
            .MapPost("/items/{item}", (string feed, string item, HttpContext http, ImportGate gate, CancellationToken ct) => RunAsync($"feed:{feed}/{item}", http, gate, ct))
            .RequireNamedLock<WebContext>("{feed}/{item}");

        // A streamed body: the application's code runs while the framework writes the response.
        app.MapPost("/stream/imports/{id}", (string id, ImportGate gate) => StreamAsync("stream:" + id, gate))
            .RequireNamedLock<WebContext>("import:{id}");

        // A handler that takes a named lock itself, with a short wait: LockTimeoutException reaches the exception handler.
        app.MapPost("/direct/imports/{id}", async (string id, WebContext db, CancellationToken ct) =>
        {
            await using var handle = await db.Database.AcquireLockAsync("import:" + id, TimeSpan.FromMilliseconds(200), ct);
            return Results.Ok(new ImportResult(handle.Name, handle.FencingToken, false));
        });
    }

    private static async IAsyncEnumerable<int> StreamAsync(string key, ImportGate gate)
    {
        yield return 1;
        await gate.PassAsync(key, CancellationToken.None);
        yield return 2;
    }

    private static async Task<IResult> RunAsync(string key, HttpContext http, ImportGate gate, CancellationToken ct)
    {
        var handle = http.GetNamedLock() ?? throw new InvalidOperationException("The endpoint runs without its named lock.");
        try
        {
            await gate.PassAsync(key, ct);
        }
        catch (OperationCanceledException) when (handle.HandleLostToken.IsCancellationRequested)
        {
            return Results.Ok(new ImportResult(handle.Name, handle.FencingToken, true));
        }

        return Results.Ok(new ImportResult(handle.Name, handle.FencingToken, false));
    }
}
