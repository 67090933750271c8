using System.Net;
using Microsoft.AspNetCore.Antiforgery;

namespace WebSample;

/// <summary>The HTML pages, written out by hand to keep the sample free of view engines.</summary>
internal static class Pages
{
    private static string E(string? text)
        => WebUtility.HtmlEncode(text ?? "");

    private static IResult Html(string title, string body)
        => Results.Content(
            $$"""
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <title>{{E(title)}}</title>
              <style>
                body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; }
                label { display: block; margin-top: .75rem; font-weight: 600; }
                input, textarea { width: 100%; box-sizing: border-box; font: inherit; }
                .side { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
                .box { border: 1px solid #ccc; padding: 1rem; border-radius: .5rem; }
                .notice { background: #eef7ee; padding: .5rem 1rem; }
                .warning { background: #fff3cd; padding: .5rem 1rem; }
              </style>
            </head>
            <body>
            {{body}}
            </body>
            </html>
            """,
            "text/html; charset=utf-8");

    private static string Token(AntiforgeryTokenSet tokens)
        => $"""<input type="hidden" name="{E(tokens.FormFieldName)}" value="{E(tokens.RequestToken)}">""";

    public static IResult Edit(Article article, AntiforgeryTokenSet tokens, string? notice)
        => Html(
            $"Edit article {article.Id}",
            $"""
            <h1>Edit article {article.Id}</h1>
            {(notice is null ? "" : $"<p id=\"notice\" class=\"notice\">{E(notice)}</p>")}
            {(article.IsLocked ? "<p id=\"locked\" class=\"warning\">This article is locked: saving will be refused until it is unlocked.</p>" : "")}
            <form method="post" action="/articles/{article.Id}/edit">
              {Token(tokens)}
              <input type="hidden" name="version" id="version" value="{article.Version}">
              <label for="title">Title</label>
              <input id="title" name="title" value="{E(article.Title)}">
              <label for="body">Body</label>
              <textarea id="body" name="body" rows="6">{E(article.Body)}</textarea>
              <p>Version {article.Version}. <button id="save" type="submit">Save</button></p>
            </form>
            """);

    public static IResult Conflict(int id, ArticleChange mine, Article theirs, AntiforgeryTokenSet tokens)
        => Html(
            "Conflict",
            $"""
            <h1 id="conflict">Someone else saved this article while you were editing it</h1>
            <p>Nothing of yours was written. You edited version {mine.Version}; the article is now at version {theirs.Version}.</p>
            <div class="side">
              <div class="box" id="mine">
                <h2>Your version</h2>
                <p><strong>Title:</strong> <span id="mine-title">{E(mine.Title)}</span></p>
                <p><strong>Body:</strong> <span id="mine-body">{E(mine.Body)}</span></p>
              </div>
              <div class="box" id="theirs">
                <h2>Current version {theirs.Version}</h2>
                <p><strong>Title:</strong> <span id="theirs-title">{E(theirs.Title)}</span></p>
                <p><strong>Body:</strong> <span id="theirs-body">{E(theirs.Body)}</span></p>
              </div>
            </div>
            <p>
              <a id="reload" href="/articles/{id}/edit">Reload the current version (discard mine)</a>
            </p>
            <form method="post" action="/articles/{id}/edit">
              {Token(tokens)}
              <input type="hidden" name="version" value="{theirs.Version}">
              <input type="hidden" name="title" value="{E(mine.Title)}">
              <input type="hidden" name="body" value="{E(mine.Body)}">
              <button id="overwrite" type="submit">Overwrite with my version</button>
            </form>
            """);

    public static IResult Message(string title, string text)
        => Html(title, $"""<h1>{E(title)}</h1><p id="message">{E(text)}</p><p><a href="/">Back</a></p>""");
}
