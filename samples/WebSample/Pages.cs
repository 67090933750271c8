using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Antiforgery;

namespace WebSample;

/// <summary>The HTML pages, written out by hand to keep the sample free of view engines. The look is in site.css.</summary>
internal static class Pages
{
    private static string E(string? text)
        => WebUtility.HtmlEncode(text ?? "");

    private static string Time(DateTimeOffset time)
        => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    private static IResult Html(HttpContext http, string title, string body, int status = StatusCodes.Status200OK)
        => Results.Content(
            $$"""
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>{{E(title)}} · Articles</title>
              <link rel="stylesheet" href="/site.css">
            </head>
            <body>
            <header class="bar">
              <a class="brand" href="/">Articles</a>
              {{Account(http)}}
            </header>
            <main>
            {{body}}
            </main>
            </body>
            </html>
            """,
            "text/html; charset=utf-8",
            statusCode: status);

    /// <summary>Who is signed in, with a form to sign out; or a form to sign in with a name.</summary>
    private static string Account(HttpContext http)
        => UserName(http) is { } name
            ? $"""
              <form class="account" method="post" action="/account/signout">
                {Token(http)}
                <input type="hidden" name="returnUrl" value="{E(http.Request.Path)}">
                <span>Signed in as <strong id="user">{E(name)}</strong></span>
                <button id="sign-out" type="submit">Sign out</button>
              </form>
              """
            : $"""
              <form class="account" method="post" action="/account/signin">
                {Token(http)}
                <input type="hidden" name="returnUrl" value="{E(http.Request.Path)}">
                <input id="user-name" name="name" placeholder="Your name" aria-label="Your name" maxlength="40" required>
                <button id="sign-in" type="submit">Sign in</button>
              </form>
              """;

    private static string? UserName(HttpContext http)
        => http.User.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;

    private static string Token(HttpContext http)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return $"""<input type="hidden" name="{E(tokens.FormFieldName)}" value="{E(tokens.RequestToken)}">""";
    }

    private static bool IsLocked(Article article, DateTimeOffset now)
        => article.IsLocked && (article.LockExpiresAt is not { } expires || expires > now);

    /// <summary>"Locked by alice until 2025-01-31 14:05 UTC", or "Not locked" (also when the lease has run out).</summary>
    private static string LockBadge(Article article, DateTimeOffset now)
    {
        if (!IsLocked(article, now))
        {
            return """<span class="badge">Not locked</span>""";
        }

        var by = article.LockedBy is { } owner ? $" by <strong>{E(owner)}</strong>" : "";
        var until = article.LockExpiresAt is { } expires ? $" until {Time(expires)}" : "";
        return $"""<span class="badge locked">Locked</span><span class="lock-detail">{by}{until}</span>""";
    }

    /// <summary>
    ///     What happened (once, after a redirect) and, while the article is locked, who may still save it: one box when
    ///     both say the same thing ("Locked. Only you can save changes until you unlock it.").
    /// </summary>
    private static string Notices(Notice? notice, string? lockRule, bool mine)
    {
        var said = notice switch
        {
            Notice.Saved => "Saved.",
            Notice.Unchanged => "Nothing to save: you made no changes.",
            Notice.Locked => $"Locked. {lockRule}".TrimEnd(),
            Notice.Unlocked => "Unlocked. Anyone can edit this article again.",
            _ => null,
        };
        var box = said is null ? "" : $"""<p id="notice" class="{(notice == Notice.Unchanged ? "info" : "notice")}">{said}</p>""";
        return lockRule is null || notice == Notice.Locked ? box : $"""{box}<p id="locked" class="{(mine ? "info" : "warning")}">This article is locked. {lockRule}</p>""";
    }

    public static IResult List(HttpContext http, IReadOnlyList<Article> articles, DateTimeOffset now)
    {
        var rows = string.Concat(articles.Select(a => $"""
            <tr id="article-{a.Id}">
              <td class="num">{a.Id}</td>
              <td><a href="/articles/{a.Id}/edit">{E(a.Title)}</a></td>
              <td class="num">{a.Version}</td>
              <td class="lock">{LockBadge(a, now)}</td>
              <td class="end"><a class="button" href="/articles/{a.Id}/edit">Edit</a></td>
            </tr>
            """));
        return Html(
            http,
            "All articles",
            $"""
            <h1>All articles</h1>
            <table class="list" id="articles">
              <thead><tr><th class="num">#</th><th>Title</th><th class="num">Version</th><th>Lock</th><th></th></tr></thead>
              <tbody>
            {rows}
              </tbody>
            </table>
            {(articles.Count == 0 ? """<p class="muted">There are no articles yet.</p>""" : "")}
            """);
    }

    public static IResult Edit(HttpContext http, Article article, Notice? notice, DateTimeOffset now)
    {
        var locked = IsLocked(article, now);
        var owner = locked ? article.LockedBy : null;
        var mine = owner is not null && owner == UserName(http);
        var lockRule = !locked ? null
            : mine ? "Only you can save changes until you unlock it."
            : owner is not null ? $"Only {E(owner)} can save changes until it is unlocked."
            : "Nobody can save changes until it is unlocked.";

        // Only the owner may unlock an owned lock (anyone may unlock a lock without an owner).
        var lockForm = !locked
            ? $"""
              <form method="post" action="/articles/{article.Id}/lock">
                {Token(http)}
                <label for="lease">Keep it locked</label>
                <select id="lease" name="lease">
                  <option value="">until I unlock it</option>
                  <option value="15">for 15 minutes</option>
                  <option value="60">for 1 hour</option>
                </select>
                <button id="lock" type="submit">Lock</button>
              </form>
              """
            : owner is null || mine
            ? $"""
              <form method="post" action="/articles/{article.Id}/unlock">
                {Token(http)}
                <button id="unlock" type="submit">Unlock</button>
              </form>
              """
            : $"""<p class="muted">Only {E(owner)} can unlock it.</p>""";
        return Html(
            http,
            article.Title,
            $"""
            <nav class="crumbs"><a href="/">All articles</a> / Article {article.Id}</nav>
            <h1>{E(article.Title)}</h1>
            {Notices(notice, lockRule, mine)}
            <div class="columns">
              <form class="card" method="post" action="/articles/{article.Id}/edit">
                {Token(http)}
                <input type="hidden" name="version" id="version" value="{article.Version}">
                <label for="title">Title</label>
                <input id="title" name="title" value="{E(article.Title)}">
                <label for="body">Body</label>
                <textarea id="body" name="body" rows="6">{E(article.Body)}</textarea>
                <div class="actions"><button id="save" class="primary" type="submit">Save</button><span class="muted">Version {article.Version}</span></div>
              </form>
              <aside class="card">
                <h2>Lock</h2>
                <p id="lock-state">{LockBadge(article, now)}</p>
                {lockForm}
              </aside>
            </div>
            """);
    }

    public static IResult Conflict(HttpContext http, int id, ArticleChange mine, Article theirs)
    {
        static string Row(string field, string label, string yours, string current)
        {
            var differs = yours != current;
            return $"""
                <tr id="row-{field}"{(differs ? " class=\"differs\"" : "")}>
                  <th>{label}{(differs ? """ <span class="tag">differs</span>""" : "")}</th>
                  <td id="mine-{field}">{E(yours)}</td>
                  <td id="theirs-{field}">{E(current)}</td>
                </tr>
                """;
        }

        return Html(
            http,
            "Conflict",
            $"""
            <nav class="crumbs"><a href="/">All articles</a> / Article {id}</nav>
            <h1 id="conflict">Someone else saved this article while you were editing it</h1>
            <p class="warning">Nothing of yours was saved. You edited version {mine.Version}; the article is now at version {theirs.Version}.
              The fields that differ are highlighted.</p>
            <table class="compare">
              <thead><tr><th></th><th>Your version</th><th>Current version {theirs.Version}</th></tr></thead>
              <tbody>
            {Row("title", "Title", mine.Title, theirs.Title)}
            {Row("body", "Body", mine.Body, theirs.Body)}
              </tbody>
            </table>
            <div class="actions">
              <a id="reload" class="button" href="/articles/{id}/edit">Discard mine and reload the current version</a>
              <form method="post" action="/articles/{id}/edit">
                {Token(http)}
                <input type="hidden" name="version" value="{theirs.Version}">
                <input type="hidden" name="title" value="{E(mine.Title)}">
                <input type="hidden" name="body" value="{E(mine.Body)}">
                <button id="overwrite" class="danger" type="submit">Overwrite with my version</button>
              </form>
            </div>
            """);
    }

    public static IResult Message(HttpContext http, string title, string text, string back, int status = StatusCodes.Status200OK)
        => Html(
            http,
            title,
            $"""
            <div class="card message">
              <h1>{E(title)}</h1>
              <p id="message">{E(text)}</p>
              <p><a class="button" href="{E(back)}">Back</a></p>
            </div>
            """,
            status);

    public static IResult ArticleNotFound(HttpContext http, int id)
        => NotFound(http, string.Create(CultureInfo.InvariantCulture, $"There is no article {id}. It may have been deleted."));

    public static IResult NotFound(HttpContext http, string text)
        => Html(
            http,
            "Page not found",
            $"""
            <div class="card message">
              <h1 id="not-found">Page not found</h1>
              <p id="message">{E(text)}</p>
              <p><a class="button" href="/">See all articles</a></p>
            </div>
            """,
            StatusCodes.Status404NotFound);
}
