using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;

namespace WebSample;

/// <summary>An article with a lock that has an owner and an optional lease (see <see cref="ILeasedLockable" />).</summary>
public class Article : ILeasedLockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Body { get; set; } = "";

    public bool IsLocked { get; set; }

    public string? LockedBy { get; set; }

    public DateTimeOffset? LockedAt { get; set; }

    public DateTimeOffset? LockExpiresAt { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public sealed class SampleDb(DbContextOptions<SampleDb> options) : DbContext(options)
{
    public DbSet<Article> Articles => Set<Article>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}

/// <summary>The JSON shape of an article; the version travels in the ETag header (or in the body, see PUT /api/articles/{id}/body).</summary>
public sealed record ArticleDto(int Id, string Title, string Body, bool IsLocked, string? LockedBy, DateTimeOffset? LockExpiresAt, long Version)
{
    public static ArticleDto From(Article article)
        => new(article.Id, article.Title, article.Body, article.IsLocked, article.LockedBy, article.LockExpiresAt, article.Version);
}

public sealed record ArticleChange(string Title, string Body, long? Version = null);

public static class SampleApp
{
    /// <summary>Builds the app; the tests start it the same way on a free port.</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls(builder.Configuration["urls"] ?? "http://127.0.0.1:5080");
        var connectionString = builder.Configuration.GetConnectionString("Default") ?? "Data Source=websample.db";
        builder.Services.AddDbContext<SampleDb>(options =>
        {
            if (connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            {
                options.UseNpgsql(connectionString);
            }
            else
            {
                options.UseSqlite(connectionString);
            }

            options.UseConcurrency();
        });
        builder.Services.AddConcurrencyProblemDetails();
        builder.Services.AddAntiforgery();

        // The pages' "Sign in" asks only for a name: enough to show who holds a lock, not a real login.
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddAuthorization();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages(SamplePages.NotFoundPageAsync);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseObjectLockOwner(); // the signed-in user owns the locks they take, and may keep saving while others are refused
        app.UseAntiforgery();

        using (var scope = app.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SampleDb>();
            db.Database.EnsureCreated();
            if (!db.Articles.Any())
            {
                db.Articles.AddRange(
                    new Article { Title = "Welcome to the team handbook", Body = "Start here: who we are, how we work, and where to find things." },
                    new Article { Title = "Release checklist", Body = "1. Freeze the branch.\n2. Run the tests.\n3. Tag and publish." },
                    new Article { Title = "Office opening hours", Body = "Monday to Friday, 8:00 to 18:00." });
                db.SaveChanges();
            }
        }

        MapApi(app);
        app.MapSamplePages();
        return app;
    }

    private static void MapApi(WebApplication app)
    {
        var api = app.MapGroup("/api/articles");
        api.MapGet("/", async (SampleDb db) => (await db.Articles.OrderBy(a => a.Id).ToListAsync()).Select(ArticleDto.From));

        api.MapGet("/{id:int}", async (int id, SampleDb db, HttpContext http)
            => await db.Articles.FindAsync(id) is { } article
                ? http.VersionedOk(db.Entry(article), ArticleDto.From(article))
                : Results.NotFound());

        // The ETag flow: GET gives the ETag, PUT sends it back in If-Match (required: 428 without it, 412 when stale).
        api.MapPut("/{id:int}", async (int id, ArticleChange change, SampleDb db, HttpContext http) =>
        {
            if (await db.Articles.FindAsync(id) is not { } article)
            {
                return Results.NotFound();
            }

            http.CheckPreconditions(db.Entry(article));
            article.Title = change.Title;
            article.Body = change.Body;
            await db.SaveChangesAsync();
            return http.VersionedOk(db.Entry(article), ArticleDto.From(article));
        }).RequireIfMatch();

        // The same with the version in the JSON body: a stale version answers 409.
        api.MapPut("/{id:int}/body", async (int id, ArticleChange change, SampleDb db, HttpContext http) =>
        {
            if (await db.Articles.FindAsync(id) is not { } article)
            {
                return Results.NotFound();
            }

            if (change.Version is not { } version)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "Send the version you read in 'version'.");
            }

            db.Entry(article).ExpectVersion(version);
            article.Title = change.Title;
            article.Body = change.Body;
            await db.SaveChangesAsync();
            return http.VersionedOk(db.Entry(article), ArticleDto.From(article));
        });

        api.MapDelete("/{id:int}", async (int id, SampleDb db, HttpContext http) =>
        {
            if (await db.Articles.FindAsync(id) is not { } article)
            {
                return Results.NotFound();
            }

            http.CheckPreconditions(db.Entry(article));
            db.Remove(article);
            await db.SaveChangesAsync();
            return Results.NoContent();
        }).RequireIfMatch();

        api.MapObjectLockEndpoints<SampleDb, Article, int>(o => o.Response = ArticleDto.From);
    }
}
