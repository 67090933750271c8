using Concurrency.AspNetCore;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace WebSample;

public class Article : ILockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Body { get; set; } = "";

    public bool IsLocked { get; set; }

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
public sealed record ArticleDto(int Id, string Title, string Body, bool IsLocked, long Version)
{
    public static ArticleDto From(Article article)
        => new(article.Id, article.Title, article.Body, article.IsLocked, article.Version);
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

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseAntiforgery();

        using (var scope = app.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SampleDb>();
            db.Database.EnsureCreated();
            if (!db.Articles.Any())
            {
                db.Articles.Add(new Article { Title = "Hello", Body = "Edit me in two tabs." });
                db.SaveChanges();
            }
        }

        MapApi(app);
        MapPages(app);
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

    private static void MapPages(WebApplication app)
    {
        app.MapGet("/", () => Results.Redirect("/articles/1/edit"));

        app.MapGet("/articles/{id:int}/edit", async (int id, SampleDb db, HttpContext http, IAntiforgery antiforgery) =>
            await db.Articles.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id) is { } article
                ? Pages.Edit(article, antiforgery.GetAndStoreTokens(http), http.Request.Query["saved"] == "1" ? "Saved." : null)
                : Results.NotFound());

        // A plain form post. The version the page was rendered with is the version the save is checked against.
        app.MapPost("/articles/{id:int}/edit", async (int id, HttpContext http, SampleDb db, IAntiforgery antiforgery, IOptions<ConcurrencyHttpOptions> messages) =>
        {
            try
            {
                await antiforgery.ValidateRequestAsync(http);
            }
            catch (AntiforgeryValidationException)
            {
                return Results.BadRequest("The form expired: reload the page.");
            }

            var form = await http.Request.ReadFormAsync();
            var tokens = antiforgery.GetAndStoreTokens(http);
            if (!long.TryParse(form["version"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version))
            {
                return Results.BadRequest("The form has no version: reload the page.");
            }

            if (await db.Articles.FindAsync(id) is not { } article)
            {
                return Pages.Message("Deleted", "This article no longer exists.");
            }

            var mine = new ArticleChange(form["title"].ToString(), form["body"].ToString(), version);
            db.Entry(article).ExpectVersion(version);
            article.Title = mine.Title;
            article.Body = mine.Body;
            try
            {
                await db.SaveChangesAsync();
                return Results.Redirect($"/articles/{id}/edit?saved=1");
            }
            catch (RecordModifiedException conflict)
            {
                var theirs = await conflict.Conflicts[0].GetDatabaseValuesAsync();
                return theirs is null
                    ? Pages.Message("Deleted", "Someone else deleted this article while you were editing it.")
                    : Pages.Conflict(id, mine, theirs.ToObject() as Article ?? new Article(), tokens);
            }
            catch (ObjectLockedException locked)
            {
                // The exception's message is advice for developers; the page shows the text written for users (the same
                // as the API's problem detail, configurable with AddConcurrencyProblemDetails(o => o.LockMessage = ...)).
                return Pages.Message("Locked", messages.Value.LockMessage(locked));
            }
        });
    }
}
