using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

/// <summary>Runs every test of a derived class against the test app on real Kestrel, backed by SQLite and by PostgreSQL.</summary>
public abstract class WebTestBase(Provider provider) : DatabasePerFixture(provider)
{
    protected TestApp App { get; private set; } = null!;

    protected HttpClient Client
        => App.Client;

    protected override string DatabaseName
        => "web" + GetType().Name;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        await using (var context = CreateContext())
        {
            await context.Database.EnsureCreatedAsync();
        }

        App = await TestApp.StartAsync(Configure, ConfigureHttp);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
        => await App.DisposeAsync();

    protected virtual void ConfigureHttp(ConcurrencyHttpOptions options)
    {
    }

    protected void Configure(DbContextOptionsBuilder builder)
        => Database.Configure(builder);

    protected WebContext CreateContext()
    {
        var builder = new DbContextOptionsBuilder<WebContext>();
        Configure(builder);
        return new WebContext(builder.UseConcurrency().Options);
    }

    protected Task<T> Seed<T>(T entity)
        where T : class
        => SaveNew(CreateContext(), entity);

    protected async Task<Doc> StoredDoc(int id)
    {
        await using var context = CreateContext();
        return await context.Docs.AsNoTracking().SingleAsync(d => d.Id == id);
    }

    protected async Task<Ticket> StoredTicket(int id)
    {
        await using var context = CreateContext();
        return await context.Tickets.AsNoTracking().SingleAsync(t => t.Id == id);
    }

    protected static HttpRequestMessage Request(HttpMethod method, string uri, object? body = null, string? ifMatch = null, string? ifNoneMatch = null, string? user = null, string? role = null)
    {
        var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        if (user is not null)
        {
            request.Headers.Add("X-User", user);
        }

        if (role is not null)
        {
            request.Headers.Add("X-Role", role);
        }

        return request;
    }

    protected async Task<HttpResponseMessage> Send(HttpMethod method, string uri, object? body = null, string? ifMatch = null, string? ifNoneMatch = null, string? user = null, string? role = null)
        => await Client.SendAsync(Request(method, uri, body, ifMatch, ifNoneMatch, user, role));

    protected static string ETagOf(HttpResponseMessage response)
        => response.Headers.ETag?.ToString() ?? throw new AssertionException("The response has no ETag header.");

    /// <summary>Asserts a problem+json answer with the status and returns its body.</summary>
    protected static async Task<JsonElement> Problem(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.That(body.GetProperty("status").GetInt32(), Is.EqualTo(status));
        return body.Clone();
    }

    protected static MediaTypeHeaderValue Json
        => new("application/json");
}
