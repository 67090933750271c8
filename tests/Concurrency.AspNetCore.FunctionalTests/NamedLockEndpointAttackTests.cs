using System.Net;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>Hostile use of <c>RequireNamedLock</c>: throwing handlers, disconnects, a crowd on one id, odd route values.</summary>
[NonParallelizable]
public sealed class NamedLockEndpointAttackTests(Provider provider) : WebTestBase(provider)
{
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(60);
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private int _inside;
    private int _overlaps;
    private int _maxInside;

    [OneTimeSetUp]
    public async Task StartAttackAppAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddDbContext<WebContext>(o =>
        {
            Configure(o);
            o.UseConcurrency();
        });
        _app = builder.Build();
        _app.MapPost("/throw/{id}", IResult (string id) => throw new InvalidOperationException("boom " + id))
            .RequireNamedLock<WebContext>("throw:{id}");
        _app.MapPost("/ok/{id}", (string id) => Results.Ok(id)).RequireNamedLock<WebContext>("ok:{id}");
        _app.MapPost("/slow/{id}", async (string id, CancellationToken ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
                return Results.Ok(id);
            })
            .RequireNamedLock<WebContext>("slow:{id}");
        _app.MapPost("/crowd/{id}", async (string id) =>
            {
                Enter();
                await Task.Delay(20);
                Exit();
                return Results.Ok(id);
            })
            .RequireNamedLock<WebContext>("crowd:{id}", TimeSpan.FromSeconds(50));
        _app.MapPost("/result/{id}", (string id) => new WorkInResult(this))
            .RequireNamedLock<WebContext>("result:{id}", TimeSpan.FromSeconds(50));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    [OneTimeTearDown]
    public async Task StopAttackAppAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [SetUp]
    public void ResetCounters()
        => (_inside, _overlaps, _maxInside) = (0, 0, 0);

    private void Enter()
    {
        var now = Interlocked.Increment(ref _inside);
        if (now > 1)
        {
            Interlocked.Increment(ref _overlaps);
        }

        int max;
        while (now > (max = Volatile.Read(ref _maxInside)) && Interlocked.CompareExchange(ref _maxInside, now, max) != max)
        {
        }
    }

    private void Exit()
        => Interlocked.Decrement(ref _inside);

    /// <summary>A result whose execution does the work (as Results.Stream, a file result or an IAsyncEnumerable body would).</summary>
    private sealed class WorkInResult(NamedLockEndpointAttackTests test) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            test.Enter();
            await Task.Delay(100);
            test.Exit();
            httpContext.Response.StatusCode = 200;
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_handler_that_throws_releases_the_lock()
    {
        var first = await _client.PostAsync("/throw/t1", null);
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        var second = await _client.PostAsync("/throw/t1", null);
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError), "not 409: the first request's lock was released");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_client_that_disconnects_mid_request_frees_the_lock()
    {
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.CatchAsync<OperationCanceledException>(() => _client.PostAsync("/slow/d1", null, cts.Token));
        }

        // The server notices the disconnect and cancels the handler: the lock must come free soon.
        HttpStatusCode status = default;
        for (var i = 0; i < 50; i++)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            try
            {
                status = (await _client.PostAsync("/slow/d1", null, cts.Token)).StatusCode;
            }
            catch (OperationCanceledException)
            {
                status = HttpStatusCode.OK; // not busy: it entered the handler and waited
                break;
            }

            if (status != HttpStatusCode.Conflict)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.That(status, Is.Not.EqualTo(HttpStatusCode.Conflict), "the disconnected request's lock was released");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Sixteen_requests_for_one_id_run_one_at_a_time()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => _client.PostAsync("/crowd/c1", null)));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(_overlaps, Is.Zero, $"at most one handler at a time (max seen {_maxInside})");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Work_done_by_the_returned_result_still_runs_under_the_lock()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _client.PostAsync("/result/r1", null)));
        Assert.That(responses.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.OK));
        Assert.That(_overlaps, Is.Zero, $"the result's execution ran outside the lock (max {_maxInside} at a time)");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Route_values_with_braces_and_huge_values_work()
    {
        foreach (var id in new[] { "{", "}", "{id}", "%7Bx%7D", new string('v', 8000), "\u00e9\ud83d\ude00" })
        {
            var response = await _client.PostAsync("/ok/" + Uri.EscapeDataString(id), null);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), id.Length > 20 ? $"{id.Length} chars" : id);
        }
    }

    [Test]
    public async Task A_timeout_the_lock_cannot_take_is_refused_when_the_endpoint_is_mapped_not_on_every_request()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddDbContext<WebContext>(o =>
        {
            Configure(o);
            o.UseConcurrency();
        });
        await using var app = builder.Build();

        // Before the fix: accepted here, then every request failed with 500 (ArgumentOutOfRangeException from AcquireLock).
        Assert.Throws<ArgumentOutOfRangeException>(
            () => app.MapPost("/forever/{id}", (string id) => Results.Ok(id)).RequireNamedLock<WebContext>("forever:{id}", TimeSpan.MaxValue));
        Assert.DoesNotThrow(
            () => app.MapPost("/longest/{id}", (string id) => Results.Ok(id)).RequireNamedLock<WebContext>("longest:{id}", TimeSpan.FromMilliseconds(int.MaxValue)));
    }
}
