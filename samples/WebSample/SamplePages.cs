using System.Globalization;
using System.Security.Claims;
using Concurrency.AspNetCore;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace WebSample;

/// <summary>
///     The HTML side of the sample: the list, the edit form with lock and unlock, the conflict page. Every form posts
///     back to the app with an antiforgery token; after a change the browser is redirected (post/redirect/get) and the
///     page says what happened once, through a short-lived cookie, so a reload or a typed address never claims a save.
/// </summary>
internal static class SamplePages
{
    private const string NoticeCookie = "sample-notice";
    private const int MaxNameLength = 40;

    public static void MapSamplePages(this WebApplication app)
    {
        app.MapGet("/site.css", () => Results.Stream(
            typeof(SamplePages).Assembly.GetManifestResourceStream("site.css")!,
            "text/css; charset=utf-8"));

        app.MapGet("/", async (HttpContext http, SampleDb db)
            => Pages.List(http, await db.Articles.AsNoTracking().OrderBy(a => a.Id).ToListAsync(), DateTimeOffset.UtcNow));

        app.MapGet("/articles/{id:int}/edit", async (int id, HttpContext http, SampleDb db)
            => await db.Articles.AsNoTracking().SingleOrDefaultAsync(a => a.Id == id) is { } article
                ? Pages.Edit(http, article, TakeNotice(http), DateTimeOffset.UtcNow)
                : Pages.ArticleNotFound(http, id));

        // A plain form post. The version the page was rendered with is the version the save is checked against.
        app.MapPost("/articles/{id:int}/edit", (int id, HttpContext http, IAntiforgery antiforgery, SampleDb db) => PostAsync(http, antiforgery, async form =>
        {
            if (!long.TryParse(form["version"], NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                return Pages.Message(http, "Something went wrong", "The form is incomplete. Reload the page and try again.", Edit(id), StatusCodes.Status400BadRequest);
            }

            if (await db.Articles.FindAsync(id) is not { } article)
            {
                return Pages.ArticleNotFound(http, id);
            }

            // Browsers send a textarea's line breaks as CRLF: normalized, so an untouched body is not a change.
            var mine = new ArticleChange(form["title"].ToString(), form["body"].ToString().ReplaceLineEndings("\n"), version);
            db.Entry(article).ExpectVersion(version);
            article.Title = mine.Title;
            article.Body = mine.Body;
            try
            {
                var written = await db.SaveChangesAsync();
                return RedirectWithNotice(http, Edit(id), written > 0 ? Notice.Saved : Notice.Unchanged);
            }
            catch (RecordModifiedException conflict)
            {
                var theirs = await conflict.Conflicts[0].GetDatabaseValuesAsync();
                return theirs is null
                    ? Pages.Message(http, "Article deleted", "Someone else deleted this article while you were editing it. Nothing of yours was saved.", "/")
                    : Pages.Conflict(http, id, mine, theirs.ToObject() as Article ?? new Article());
            }
            catch (ObjectLockedException locked)
            {
                return LockRefused(http, id, locked);
            }
        }));

        // Lock and unlock through the library (LockAsync / UnlockAsync); the owner is the signed-in user (UseObjectLockOwner).
        app.MapPost("/articles/{id:int}/lock", (int id, HttpContext http, IAntiforgery antiforgery, SampleDb db) => PostAsync(http, antiforgery, form =>
        {
            TimeSpan? lease = int.TryParse(form["lease"], NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) && minutes > 0
                ? TimeSpan.FromMinutes(minutes)
                : null;
            return ChangeLockAsync(http, db, id, article => db.LockAsync(article, lease), Notice.Locked);
        }));

        app.MapPost("/articles/{id:int}/unlock", (int id, HttpContext http, IAntiforgery antiforgery, SampleDb db) => PostAsync(http, antiforgery, _ =>
            ChangeLockAsync(http, db, id, article => db.UnlockAsync(article), Notice.Unlocked)));

        app.MapPost("/account/signin", (HttpContext http, IAntiforgery antiforgery) => PostAsync(http, antiforgery, async form =>
        {
            var back = LocalUrl(form["returnUrl"]);
            var name = form["name"].ToString().Trim();
            if (name.Length is 0 or > MaxNameLength)
            {
                return Pages.Message(http, "Not signed in", $"Enter a name of 1 to {MaxNameLength} characters.", back, StatusCodes.Status400BadRequest);
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, name)], CookieAuthenticationDefaults.AuthenticationScheme);
            await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return Results.Redirect(back);
        }));

        app.MapPost("/account/signout", (HttpContext http, IAntiforgery antiforgery) => PostAsync(http, antiforgery, async form =>
        {
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect(LocalUrl(form["returnUrl"]));
        }));
    }

    /// <summary>The HTML 404 page for any address nothing answered (the API keeps its bodiless 404s).</summary>
    public static async Task NotFoundPageAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode == StatusCodes.Status404NotFound && !http.Request.Path.StartsWithSegments("/api"))
        {
            await Pages.NotFound(http, "There is nothing at this address. It may have been mistyped, or the page may have been removed.").ExecuteAsync(http);
        }
    }

    private static string Edit(int id)
        => string.Create(CultureInfo.InvariantCulture, $"/articles/{id}/edit");

    /// <summary>Checks the antiforgery token, then hands the form to <paramref name="handle" />.</summary>
    private static async Task<IResult> PostAsync(HttpContext http, IAntiforgery antiforgery, Func<IFormCollection, Task<IResult>> handle)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return Pages.Message(http, "The form has expired", "Nothing was changed. Reload the page and try again.", "/", StatusCodes.Status400BadRequest);
        }

        return await handle(await http.Request.ReadFormAsync());
    }

    private static async Task<IResult> ChangeLockAsync(HttpContext http, SampleDb db, int id, Func<Article, Task> change, Notice done)
    {
        if (await db.Articles.FindAsync(id) is not { } article)
        {
            return Pages.ArticleNotFound(http, id);
        }

        try
        {
            await change(article);
            return RedirectWithNotice(http, Edit(id), done);
        }
        catch (ObjectLockException refused)
        {
            return LockRefused(http, id, refused);
        }
    }

    /// <summary>
    ///     A refused save, lock or unlock. The exception's message is advice for developers; the page shows the text written
    ///     for users (the same as the API's problem detail, configurable with AddConcurrencyProblemDetails(o => o.LockMessage = ...)).
    /// </summary>
    private static IResult LockRefused(HttpContext http, int id, ObjectLockException refused)
    {
        var text = http.RequestServices.GetRequiredService<IOptions<ConcurrencyHttpOptions>>().Value.LockMessage(refused);
        var title = refused switch
        {
            ObjectAlreadyLockedException => "Already locked",
            ObjectAlreadyUnlockedException => "Not locked",
            _ => "Locked",
        };
        return Pages.Message(http, title, text, Edit(id));
    }

    /// <summary>Redirects to <paramref name="location" />, which shows <paramref name="notice" /> once.</summary>
    private static IResult RedirectWithNotice(HttpContext http, string location, Notice notice)
    {
        http.Response.Cookies.Append(NoticeCookie, notice.ToString(), NoticeCookieOptions(location));
        return Results.Redirect(location);
    }

    private static Notice? TakeNotice(HttpContext http)
    {
        if (!http.Request.Cookies.TryGetValue(NoticeCookie, out var value))
        {
            return null;
        }

        http.Response.Cookies.Delete(NoticeCookie, NoticeCookieOptions(http.Request.Path));
        return Enum.TryParse<Notice>(value, out var notice) && Enum.IsDefined(notice) ? notice : null;
    }

    private static CookieOptions NoticeCookieOptions(string path)
        => new() { Path = path, HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true };

    private static string LocalUrl(string? url)
        => url is ['/', not '/' and not '\\', ..] or "/" ? url : "/";
}

/// <summary>What the page reached after a redirect reports, once.</summary>
internal enum Notice
{
    Saved,
    Unchanged,
    Locked,
    Unlocked,
}
