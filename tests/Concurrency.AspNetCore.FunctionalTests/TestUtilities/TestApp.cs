using System.Security.Claims;
using System.Text.Encodings.Web;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Concurrency.AspNetCore.FunctionalTests.TestUtilities;

public class Doc : ILockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsLocked { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public class Ticket : ILeasedLockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsLocked { get; set; }

    public string? LockedBy { get; set; }

    public DateTimeOffset? LockedAt { get; set; }

    public DateTimeOffset? LockExpiresAt { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public class Counter
{
    public int Id { get; set; }

    public int Value { get; set; }

    [VersionField]
    public long Version { get; set; }
}

/// <summary>A composite key of two strings, whose parts may hold the separator of the ETag's resource text.</summary>
[PrimaryKey(nameof(A), nameof(B))]
public class Pair
{
    public string A { get; set; } = "";

    public string B { get; set; } = "";

    public string Title { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

/// <summary>A key whose default text (<c>ToString()</c>) drops the fraction of a second.</summary>
public class Reading
{
    public DateTime Id { get; set; }

    [VersionField]
    public long Version { get; set; }
}

/// <summary>A lockable entity with a string key.</summary>
public class Label : ILockable
{
    public string Id { get; set; } = "";

    public bool IsLocked { get; set; }
}

public enum Color
{
    Red = 1,
    Green = 2,
}

/// <summary>A lockable entity with an enum key.</summary>
public class Shelf : ILockable
{
    public Color Id { get; set; }

    public bool IsLocked { get; set; }
}

/// <summary>Not lockable itself: the API treats a published story as locked (django-object-lock's API policy).</summary>
public class Story
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsPublished { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public sealed class WebContext(DbContextOptions<WebContext> options) : DbContext(options)
{
    public DbSet<Story> Stories => Set<Story>();

    public DbSet<Doc> Docs => Set<Doc>();

    public DbSet<Ticket> Tickets => Set<Ticket>();

    public DbSet<Counter> Counters => Set<Counter>();

    public DbSet<Pair> Pairs => Set<Pair>();

    public DbSet<Reading> Readings => Set<Reading>();

    public DbSet<Label> Labels => Set<Label>();

    public DbSet<Shelf> Shelves => Set<Shelf>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}

public sealed record DocChange(string Title, long? Version = null);

/// <summary>
///     A real Kestrel server on 127.0.0.1 and a free port, with the package's endpoints and helpers as an application
///     would use them. The user comes from the <c>X-User</c> header and roles from <c>X-Role</c> (a test scheme).
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestApp(WebApplication app, Uri address, TestLog log)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = address };
        Log = log;
    }

    public HttpClient Client { get; }

    /// <summary>What the package logged (category <c>Concurrency.AspNetCore</c>).</summary>
    public TestLog Log { get; }

    public IServiceProvider Services
        => _app.Services;

    public static async Task<TestApp> StartAsync(Action<DbContextOptionsBuilder> database, Action<ConcurrencyHttpOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var log = new TestLog("Concurrency.AspNetCore");
        builder.Logging.AddProvider(log);
        builder.Services.AddDbContext<WebContext>(o =>
        {
            database(o);
            o.UseConcurrency();
        });
        builder.Services.AddConcurrencyProblemDetails(configure);
        builder.Services.AddSingleton<ImportGate>();
        builder.Services.AddControllers().AddApplicationPart(typeof(TestApp).Assembly);
        builder.Services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>("Test", null);
        builder.Services.AddAuthorizationBuilder().AddPolicy("admin", p => p.RequireRole("admin"));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseObjectLockOwner();

        app.MapGet("/docs/{id:int}", async (int id, WebContext db, HttpContext http)
            => await db.Docs.FindAsync(id) is { } doc ? http.VersionedOk(db.Entry(doc)) : Results.NotFound());

        // If-Match optional here, required on /strict.
        app.MapPut("/docs/{id:int}", (int id, DocChange change, WebContext db, HttpContext http) => UpdateAsync(id, change, db, http));
        app.MapPut("/strict/docs/{id:int}", (int id, DocChange change, WebContext db, HttpContext http) => UpdateAsync(id, change, db, http))
            .RequireIfMatch();

        // The version in the JSON body instead of a header.
        app.MapPut("/body/docs/{id:int}", async (int id, DocChange change, WebContext db, HttpContext http) =>
        {
            if (await db.Docs.FindAsync(id) is not { } doc)
            {
                return Results.NotFound();
            }

            db.Entry(doc).ExpectVersion(change.Version ?? throw new BadHttpRequestException("version is required"));
            doc.Title = change.Title;
            await db.SaveChangesAsync();
            return http.VersionedOk(db.Entry(doc));
        });

        app.MapDelete("/docs/{id:int}", async (int id, WebContext db, HttpContext http) =>
        {
            if (await db.Docs.FindAsync(id) is not { } doc)
            {
                return Results.NotFound();
            }

            http.CheckPreconditions(db.Entry(doc));
            db.Remove(doc);
            await db.SaveChangesAsync();
            return Results.NoContent();
        }).RequireIfMatch();

        app.MapPut("/tickets/{id:int}", async (int id, DocChange change, WebContext db, HttpContext http) =>
        {
            if (await db.Tickets.FindAsync(id) is not { } ticket)
            {
                return Results.NotFound();
            }

            http.CheckPreconditions(db.Entry(ticket));
            ticket.Title = change.Title;
            await db.SaveChangesAsync();
            return http.VersionedOk(db.Entry(ticket));
        });

        app.MapGet("/pairs/{a}/{b}", async (string a, string b, WebContext db, HttpContext http)
            => await db.Pairs.FindAsync(a, b) is { } pair ? http.VersionedOk(db.Entry(pair)) : Results.NotFound());
        app.MapPut("/pairs/{a}/{b}", async (string a, string b, DocChange change, WebContext db, HttpContext http) =>
        {
            if (await db.Pairs.FindAsync(a, b) is not { } pair)
            {
                return Results.NotFound();
            }

            http.CheckPreconditions(db.Entry(pair));
            pair.Title = change.Title;
            await db.SaveChangesAsync();
            return http.VersionedOk(db.Entry(pair));
        });

        // Read-modify-write under contention, with the retry helper.
        app.MapPost("/counters/{id:int}/increment", async (int id, WebContext db, CancellationToken ct) =>
        {
            var value = await db.RetryOnConflictAsync(async token =>
            {
                var counter = await db.Counters.SingleAsync(c => c.Id == id, token);
                counter.Value++;
                await db.SaveChangesAsync(token);
                return counter.Value;
            }, maxAttempts: 200, ct);
            return Results.Ok(value);
        });

        // The API's own lock policy: published stories are locked for the API, editable by the back office (the context).
        app.MapGroup("/stories").MapObjectLockEndpoints<WebContext, Story, int>(o =>
        {
            o.IsLocked = story => story.IsPublished;
            o.SetLocked = (story, locked) => story.IsPublished = locked;
        });
        app.MapPut("/stories/{id:int}", (int id, DocChange change, WebContext db) => RetitleStoryAsync(id, change, db))
            .RefuseWhenLocked<WebContext, Story, int>(story => story.IsPublished);
        app.MapPatch("/stories/{id:int}", (int id, DocChange change, WebContext db) => RetitleStoryAsync(id, change, db))
            .RefuseWhenLocked<WebContext, Story, int>(story => story.IsPublished);
        app.MapDelete("/stories/{id:int}", async (int id, WebContext db) =>
            {
                if (await db.Stories.FindAsync(id) is not { } story)
                {
                    return Results.NotFound();
                }

                db.Remove(story);
                await db.SaveChangesAsync();
                return Results.NoContent();
            })
            .RefuseWhenLocked<WebContext, Story, int>(story => story.IsPublished);
        app.MapPut("/guarded/docs/{id:int}", async (int id, DocChange change, WebContext db) =>
            {
                var doc = await db.Docs.FindAsync(id);
                doc!.Title = change.Title;
                await db.SaveChangesAsync();
                return Results.Ok(doc);
            })
            .RefuseWhenLocked<WebContext, Doc, int>(); // the entity's own lock, checked before the handler

        app.MapImportEndpoints();
        app.MapControllers();
        app.MapGroup("/docs").MapObjectLockEndpoints<WebContext, Doc, int>();
        app.MapGroup("/labels").MapObjectLockEndpoints<WebContext, Label, string>();
        app.MapGroup("/shelves").MapObjectLockEndpoints<WebContext, Shelf, Color>();
        app.MapGroup("/tickets").MapObjectLockEndpoints<WebContext, Ticket, int>(o =>
        {
            o.ForceUnlockPolicy = "admin";
            o.Lease = TimeSpan.FromMinutes(30);
        });

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestApp(app, new Uri(address), log);
    }

    private static async Task<IResult> UpdateAsync(int id, DocChange change, WebContext db, HttpContext http)
    {
        if (await db.Docs.FindAsync(id) is not { } doc)
        {
            return Results.NotFound();
        }

        http.CheckPreconditions(db.Entry(doc));
        doc.Title = change.Title;
        await db.SaveChangesAsync();
        return http.VersionedOk(db.Entry(doc));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task<IResult> RetitleStoryAsync(int id, DocChange change, WebContext db)
    {
        if (await db.Stories.FindAsync(id) is not { } story)
        {
            return Results.NotFound();
        }

        story.Title = change.Title;
        await db.SaveChangesAsync();
        return Results.Ok(story);
    }

    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers["X-User"].ToString() is not { Length: > 0 } user)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var claims = new List<Claim> { new(ClaimTypes.Name, user) };
            claims.AddRange(Request.Headers["X-Role"].Select(role => new Claim(ClaimTypes.Role, role!)));
            var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, "Test"));
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, "Test")));
        }
    }
}
