using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.Snippets;

/// <summary>docs/http.md and the README of the Concurrency.AspNetCore package.</summary>
public static class Http
{
    public static void Setup(WebApplicationBuilder builder, WebApplication app)
    {
        #region http-setup
        builder.Services.AddConcurrencyProblemDetails();      // 409 / 412 / 428 / 400 as problem+json, never a 500
        app.UseExceptionHandler();
        app.MapGroup("/api/articles").MapObjectLockEndpoints<BlogContext, Article, int>();   // PUT {id}/lock, {id}/unlock
        #endregion
    }

    public static void Policy(WebApplication app)
    {
        #region object-locks-api-policy
        app.MapGroup("/api/stories").MapObjectLockEndpoints<NewsContext, Story, int>(o =>
        {
            o.IsLocked = story => story.IsPublished;                       // is_instance_locked
            o.SetLocked = (story, locked) => story.IsPublished = locked;   // set_locked_status
        });

        app.MapPut("/api/stories/{id:int}", async (int id, StoryChange change, NewsContext db) =>
            {
                var story = await db.Stories.FindAsync(id);
                if (story is null)
                {
                    return Results.NotFound();
                }

                story.Title = change.Title;
                await db.SaveChangesAsync();
                return Results.Ok(story);
            })
            .RefuseWhenLocked<NewsContext, Story, int>(story => story.IsPublished);   // 409 before the handler runs
        #endregion
    }

    public static void Messages(WebApplicationBuilder builder)
    {
        #region http-messages
        builder.Services.AddConcurrencyProblemDetails(o =>
        {
            o.ConflictMessage = e => e is RecordModifiedException { WasDeleted: true } ? "Cet article a été supprimé." : "Cet article a été modifié.";
            o.LockMessage = e => $"Verrouillé par {e.LockedBy ?? "quelqu'un"}.";
        });
        #endregion
    }

    public static void Endpoints(WebApplication app)
    {
        #region http-endpoints
        app.MapGet("/api/articles/{id}", async (int id, BlogContext db, HttpContext http) =>
            await db.Articles.FindAsync(id) is { } a ? http.VersionedOk(db.Entry(a), ArticleDto.From(a)) : Results.NotFound());

        app.MapPut("/api/articles/{id}", async (int id, ArticleChange change, BlogContext db, HttpContext http) =>
        {
            if (await db.Articles.FindAsync(id) is not { } article) return Results.NotFound();
            http.CheckPreconditions(db.Entry(article));       // 412 / 428 / 400 before anything is written
            article.Title = change.Title;
            await db.SaveChangesAsync();                      // a write that raced in between: 409
            return http.VersionedOk(db.Entry(article), ArticleDto.From(article));
        }).RequireIfMatch();                                   // no If-Match: 428
        #endregion
    }

    public static void PackageSetup(WebApplicationBuilder builder, WebApplication app)
    {
        #region aspnetcore-package-setup
        builder.Services.AddConcurrencyProblemDetails();   // RecordModifiedException -> 409 problem+json (entity, key, versions)
        app.UseExceptionHandler();
        app.MapGroup("/api/articles").MapObjectLockEndpoints<BlogContext, Article, int>();   // PUT {id}/lock, {id}/unlock
        #endregion
    }

    public static void PackageEndpoints(WebApplication app)
    {
        #region aspnetcore-package-endpoints
        app.MapGet("/api/articles/{id}", async (int id, BlogContext db, HttpContext http) =>
            await db.Articles.FindAsync(id) is { } a ? http.VersionedOk(db.Entry(a)) : Results.NotFound());   // ETag, 304

        app.MapPut("/api/articles/{id}", async (int id, ArticleChange change, BlogContext db, HttpContext http) =>
        {
            if (await db.Articles.FindAsync(id) is not { } article) return Results.NotFound();
            http.CheckPreconditions(db.Entry(article));   // If-Match: 412 when stale, 428 when required and missing, 400 when malformed
            article.Title = change.Title;
            await db.SaveChangesAsync();                  // a write that raced in between: 409
            return http.VersionedOk(db.Entry(article));
        }).RequireIfMatch();
        #endregion
    }
}

public class Story
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    public bool IsPublished { get; set; }
    [VersionField] public long Version { get; set; }
}

public sealed record StoryChange(string Title);

public class NewsContext(Microsoft.EntityFrameworkCore.DbContextOptions<NewsContext> options) : Microsoft.EntityFrameworkCore.DbContext(options)
{
    public Microsoft.EntityFrameworkCore.DbSet<Story> Stories => Set<Story>();

    public static void NamedLock(WebApplication app)
    {
        #region http-named-lock
        app.MapPost("/api/imports/{source}", async (string source, HttpContext http, BlogContext db, CancellationToken ct) =>
            {
                var token = http.GetNamedLock()!.FencingToken;   // for writes outside this database (see named-locks.md)
                await Task.Delay(TimeSpan.FromSeconds(1), ct);    // the import; ct is cancelled if the lock is lost
                return Results.Ok(new { source, token });
            })
            .RequireNamedLock<BlogContext>("import:{source}", timeout: TimeSpan.FromSeconds(5));
        #endregion
    }
}
