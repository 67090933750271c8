using System.Net;
using System.Net.Http.Json;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     <c>RequireNamedLock</c> over real Kestrel on SQLite and PostgreSQL: one import per id at a time, busy answers as
///     problem+json, waiting with a timeout, names from route values, startup checks, and a lost lock cancelling the
///     handler.
/// </summary>
public sealed class NamedLockEndpointTests(Provider provider) : WebTestBase(provider)
{
    /// <summary>A guard against hanging, not a timing assertion.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(60);

    private ImportGate Gate
        => App.Services.GetRequiredService<ImportGate>();

    private static async Task<ImportResult> Result(Task<HttpResponseMessage> response)
    {
        var message = await response.WaitAsync(Hang);
        Assert.That(message.StatusCode, Is.EqualTo(HttpStatusCode.OK), await message.Content.ReadAsStringAsync());
        return (await message.Content.ReadFromJsonAsync<ImportResult>())!;
    }

    [Test]
    public async Task A_second_import_of_the_same_id_is_answered_as_busy_while_the_first_runs()
    {
        var first = Send(HttpMethod.Post, "/imports/a1");
        await Gate.Entered("now:a1").WaitAsync(Hang);

        var busy = await Problem(await Send(HttpMethod.Post, "/imports/a1"), 409);
        Assert.That(busy.GetProperty("lockName").GetString(), Is.EqualTo("import:a1"));
        Assert.That(busy.GetProperty("title").GetString(), Is.EqualTo("The operation is already running"));
        Assert.That(busy.GetProperty("detail").GetString(), Does.StartWith("This is already being done (import:a1)"));

        var other = Send(HttpMethod.Post, "/imports/a2");
        await Gate.Entered("now:a2").WaitAsync(Hang);
        Gate.Open("now:a2");
        Assert.That((await Result(other)).LockName, Is.EqualTo("import:a2"), "another id runs at the same time");

        Gate.Open("now:a1");
        var done = await Result(first);
        Assert.That(done, Has.Property(nameof(ImportResult.LockName)).EqualTo("import:a1").And.Property(nameof(ImportResult.Lost)).False);
        Assert.That(Gate.Entries.Count(e => e == "now:a1"), Is.EqualTo(1), "the busy request's handler did not run");

        var again = await Result(Send(HttpMethod.Post, "/imports/a1"));
        Assert.That(again.FencingToken, Is.GreaterThan(done.FencingToken), "the lock is free again, with a newer fencing token");
    }

    [Test]
    public async Task An_endpoint_with_a_timeout_waits_for_the_holder_and_then_runs()
    {
        var first = Send(HttpMethod.Post, "/imports/q1");
        await Gate.Entered("now:q1").WaitAsync(Hang);
        var queued = Send(HttpMethod.Post, "/queued/imports/q1");
        await Problem(await Send(HttpMethod.Post, "/imports/q1"), 409);
        Assert.That(Gate.Entries, Does.Not.Contain("queued:q1"), "the waiting request has not entered while the first holds the lock");

        Gate.Open("now:q1");
        Gate.Open("queued:q1");
        var firstResult = await Result(first);
        var queuedResult = await Result(queued);

        Assert.That(Gate.Entries.Where(e => e.EndsWith(":q1", StringComparison.Ordinal)), Is.EqualTo(new[] { "now:q1", "queued:q1" }));
        Assert.That(queuedResult.FencingToken, Is.GreaterThan(firstResult.FencingToken));
    }

    [Test]
    public async Task A_streamed_result_is_written_under_the_lock()
    {
        var streaming = Send(HttpMethod.Post, "/stream/imports/s1");
        await Gate.Entered("stream:s1").WaitAsync(Hang);

        // The handler has returned; its IAsyncEnumerable is being written, and the lock is still held.
        await Problem(await Send(HttpMethod.Post, "/imports/s1"), 409);

        Gate.Open("stream:s1");
        var response = await streaming.WaitAsync(Hang);
        Assert.That(await response.Content.ReadFromJsonAsync<int[]>(), Is.EqualTo(new[] { 1, 2 }));
        Gate.Open("now:s1");
        Assert.That((await Result(Send(HttpMethod.Post, "/imports/s1"))).LockName, Is.EqualTo("import:s1"), "released once written");
    }

    [Test]
    public async Task Lock_names_come_from_the_route_values_of_the_group_and_the_endpoint()
    {
        var first = Send(HttpMethod.Post, "/feeds/f1/items/i1");
        await Gate.Entered("feed:f1/i1").WaitAsync(Hang);

        // The group's lock ("{feed}:f1", braces escaped) is held by the first request: another item of the feed is busy.
        var busy = await Problem(await Send(HttpMethod.Post, "/feeds/f1/items/i2"), 409);
        Assert.That(busy.GetProperty("lockName").GetString(), Is.EqualTo("{feed}:f1"));

        Gate.Open("feed:f1/i1");
        Assert.That((await Result(first)).LockName, Is.EqualTo("f1/i1"), "the handler sees the innermost lock");
    }

    [Test]
    public async Task A_LockTimeoutException_from_a_handler_is_answered_as_busy()
    {
        await using (var context = CreateContext())
        {
            await using var held = await context.Database.AcquireLockAsync("import:d1");
            var busy = await Problem(await Send(HttpMethod.Post, "/direct/imports/d1"), 409);
            Assert.That(busy.GetProperty("lockName").GetString(), Is.EqualTo("import:d1"));
        }

        var free = await Result(Send(HttpMethod.Post, "/direct/imports/d1"));
        Assert.That(free.LockName, Is.EqualTo("import:d1"));
    }

    [Test]
    public async Task A_lost_lock_cancels_the_handlers_token()
    {
        if (!IsPostgres)
        {
            Assert.Ignore("PostgreSQL only: a SQLite file lock is held by the process and cannot be taken away from it.");
        }

        var running = Send(HttpMethod.Post, "/imports/l1");
        await Gate.Entered("now:l1").WaitAsync(Hang);

        // End the session that holds the request's advisory lock, as a failover or an administrator would.
        var terminated = Database.Execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        Assert.That(terminated, Is.Not.Zero);

        var result = await Result(running);
        Assert.That(result, Has.Property(nameof(ImportResult.Lost)).True.And.Property(nameof(ImportResult.LockName)).EqualTo("import:l1"));
    }

    [Test]
    public async Task A_placeholder_that_names_no_route_parameter_fails_at_startup()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddDbContext<WebContext>(o =>
        {
            Configure(o);
            o.UseConcurrency();
        });
        await using var app = builder.Build();
        app.MapPost("/reports/{id}", () => "ok").RequireNamedLock<WebContext>("report:{key}");

        var error = Assert.Throws<InvalidOperationException>(() => ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).ToList())!;
        Assert.That(error.Message, Does.Contain("RequireNamedLock(\"report:{key}\")").And.Contain("no parameter 'key'").And.Contain("{id}"));

        var unmatched = Assert.Throws<ArgumentException>(() => app.MapPost("/x/{id}", () => "ok").RequireNamedLock<WebContext>("x:{id"))!;
        Assert.That(unmatched.Message, Does.Contain("position 2"));
        Assert.Throws<ArgumentOutOfRangeException>(() => app.MapPost("/y/{id}", () => "ok").RequireNamedLock<WebContext>("y", TimeSpan.FromSeconds(-1)));
    }
}

/// <summary>The busy answer's status and text are configurable like the object-lock errors.</summary>
public sealed class NamedLockBusyAnswerTests(Provider provider) : WebTestBase(provider)
{
    protected override void ConfigureHttp(ConcurrencyHttpOptions options)
    {
        options.NamedLockBusyStatusCode = 423;
        options.NamedLockBusyMessage = name => $"Busy with {name}.";
    }

    [Test]
    public async Task A_busy_lock_is_answered_with_the_configured_status_and_text()
    {
        var gate = App.Services.GetRequiredService<ImportGate>();
        var first = Send(HttpMethod.Post, "/imports/c1");
        await gate.Entered("now:c1").WaitAsync(TimeSpan.FromSeconds(60));

        var busy = await Problem(await Send(HttpMethod.Post, "/imports/c1"), 423);
        Assert.That(busy.GetProperty("detail").GetString(), Is.EqualTo("Busy with import:c1."));
        Assert.That(busy.GetProperty("type").GetString(), Does.Contain("rfc4918"));

        gate.Open("now:c1");
        Assert.That((await first.WaitAsync(TimeSpan.FromSeconds(60))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConcurrencyHttpOptions().NamedLockBusyStatusCode = 503);
    }
}
