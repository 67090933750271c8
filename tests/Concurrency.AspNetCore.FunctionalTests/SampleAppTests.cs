using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using WebSample;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     The WebSample as a newcomer meets it, over HTTP without a browser, on Kestrel with SQLite and PostgreSQL: its lock
///     endpoint answers 400 (not 500) for a lease, and its API and pages show texts written for users.
/// </summary>
[TestFixture(Provider.Sqlite)]
[TestFixture(Provider.Postgres)]
public sealed partial class SampleAppTests(Provider provider)
{
    private TestDatabase _database = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task StartSampleAsync()
    {
        _database = TestDatabase.Create(provider, "websampleapi");
        _app = SampleApp.Create(["--urls=http://127.0.0.1:0", $"--ConnectionStrings:Default={_database.ConnectionString}", "--Logging:LogLevel:Default=Warning"]);
        await _app.StartAsync();
        var address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        _client = new HttpClient(new HttpClientHandler { UseCookies = true, AllowAutoRedirect = false }) { BaseAddress = address };
    }

    [OneTimeTearDown]
    public async Task StopSampleAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _database.Dispose();
    }

    private async Task<Article> Seed(string title)
    {
        using var scope = _app.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<SampleDb>();
        var article = new Article { Title = title, Body = "body" };
        db.Add(article);
        await db.SaveChangesAsync();
        return article;
    }

    private async Task<Article> Stored(int id)
    {
        using var scope = _app.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<SampleDb>().Articles.AsNoTracking().SingleAsync(a => a.Id == id);
    }

    private static async Task<JsonElement> Problem(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [GeneratedRegex("""<input type="hidden" name="([^"]+)" value="([^"]+)">""")]
    private static partial Regex HiddenToken();

    [GeneratedRegex("""<p id="message">(.*?)</p>""")]
    private static partial Regex MessageParagraph();

    [Test]
    public async Task A_lease_on_the_sample_article_locks_it_until_then_and_a_malformed_lease_answers_400_naming_leaseSeconds()
    {
        var article = await Seed("lease");

        var problem = await Problem(await _client.PutAsync($"/api/articles/{article.Id}/lock?leaseSeconds=abc", null), 400);
        Assert.That(problem.GetProperty("errors").GetProperty("leaseSeconds")[0].GetString(), Does.StartWith("'abc' is not a lease"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("'leaseSeconds'"));
        var stored = await Stored(article.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((false, 1L)), "nothing written");

        var response = await _client.PutAsync($"/api/articles/{article.Id}/lock?leaseSeconds=60", null);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<ArticleDto>();
        stored = await Stored(article.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((true, 2L)));
        Assert.That(stored.LockExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow).And.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(60)));
        Assert.That(body!.LockExpiresAt, Is.EqualTo(stored.LockExpiresAt).Within(TimeSpan.FromMilliseconds(1)), "the API shows the lease");
    }

    [Test]
    public async Task A_stale_version_sent_to_the_sample_API_answers_409_with_a_text_for_users()
    {
        var article = await Seed("api");
        Assert.That((await _client.PutAsJsonAsync($"/api/articles/{article.Id}/body", new ArticleChange("theirs", "b", 1))).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var problem = await Problem(await _client.PutAsJsonAsync($"/api/articles/{article.Id}/body", new ArticleChange("mine", "b", 1)), 409);
        Assert.That(problem.GetProperty("detail").GetString(), Is.EqualTo(
            "This article was changed by someone else after you loaded it. Nothing of your change was saved. Reload it to see the "
            + "current version, then apply your change again."));
        Assert.That((problem.GetProperty("expectedVersion").GetInt64(), problem.GetProperty("actualVersion").GetInt64()), Is.EqualTo((1L, 2L)));
        Assert.That((await Stored(article.Id)).Title, Is.EqualTo("theirs"));
    }

    [Test]
    public async Task Saving_a_locked_article_in_the_sample_page_shows_a_text_for_users()
    {
        var article = await Seed("page");
        var edit = await _client.GetStringAsync($"/articles/{article.Id}/edit"); // the form, at version 1
        Assert.That((await _client.PutAsync($"/api/articles/{article.Id}/lock", null)).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var token = HiddenToken().Match(edit);
        Assert.That(token.Success, Is.True, edit);
        var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [WebUtility.HtmlDecode(token.Groups[1].Value)] = WebUtility.HtmlDecode(token.Groups[2].Value),
            ["version"] = "2",
            ["title"] = "edited",
            ["body"] = "edited",
        });
        var response = await _client.PostAsync($"/articles/{article.Id}/edit", form);
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), html);

        var message = MessageParagraph().Match(html);
        Assert.That(message.Success, Is.True, html);
        Assert.That(
            WebUtility.HtmlDecode(message.Groups[1].Value),
            Is.EqualTo("This article is locked, so it cannot be changed now. Nothing of your change was saved. Try again after it is unlocked."));
        Assert.That(html, Does.Not.Contain("UnlockAsync").And.Not.Contain("SaveChanges"));
        var stored = await Stored(article.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.Version), Is.EqualTo(("page", true, 2L)), "nothing written");
    }

    /// <summary>Loads <paramref name="page" />, then posts its antiforgery token and <paramref name="fields" /> to <paramref name="action" />.</summary>
    private async Task<HttpResponseMessage> PostFormAsync(string page, string action, Dictionary<string, string> fields)
    {
        var html = await _client.GetStringAsync(page);
        var token = HiddenToken().Match(html);
        Assert.That(token.Success, Is.True, html);
        fields[WebUtility.HtmlDecode(token.Groups[1].Value)] = WebUtility.HtmlDecode(token.Groups[2].Value);
        return await _client.PostAsync(action, new FormUrlEncodedContent(fields));
    }

    [TestCase("/nope")]
    [TestCase("/articles/999999/edit")]
    [TestCase("/articles/1/nope")]
    public async Task Unknown_addresses_answer_an_HTML_404_page(string path)
    {
        var response = await _client.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), html);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(html, Does.Contain("<h1 id=\"not-found\">Page not found</h1>").And.Contain("href=\"/site.css\""));
    }

    [Test]
    public async Task The_list_and_the_stylesheet_come_from_the_app_itself()
    {
        var article = await Seed("listed");
        var list = await _client.GetStringAsync("/");
        Assert.That(list, Does.Contain($"<tr id=\"article-{article.Id}\">").And.Contain("listed"));
        Assert.That(list, Does.Not.Contain("http://").And.Not.Contain("https://"), "nothing is fetched from elsewhere");

        var css = await _client.GetAsync("/site.css");
        Assert.That(css.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(css.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/css"));
        Assert.That(await css.Content.ReadAsStringAsync(), Does.Contain(".differs"));
    }

    [Test]
    public async Task The_edit_page_says_Saved_only_after_a_save_that_wrote_something()
    {
        var article = await Seed("saved");
        var edit = $"/articles/{article.Id}/edit";
        Assert.That(await _client.GetStringAsync(edit + "?saved=1"), Does.Not.Contain("id=\"notice\""), "an address cannot claim a save");

        var unchanged = await PostFormAsync(edit, edit, new() { ["version"] = "1", ["title"] = "saved", ["body"] = "body" });
        Assert.That(unchanged.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await _client.GetStringAsync(edit), Does.Contain("Nothing to save").And.Not.Contain("Saved."));
        Assert.That((await Stored(article.Id)).Version, Is.EqualTo(1L), "nothing written");

        var saved = await PostFormAsync(edit, edit, new() { ["version"] = "1", ["title"] = "saved again", ["body"] = "body" });
        Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await _client.GetStringAsync(edit), Does.Contain("<p id=\"notice\" class=\"notice\">Saved.</p>"));
        Assert.That(await _client.GetStringAsync(edit), Does.Not.Contain("Saved."), "said once, not on every reload");
        Assert.That((await Stored(article.Id)).Version, Is.EqualTo(2L));
    }

    [Test]
    public async Task The_edit_page_locks_and_unlocks_with_a_lease_and_the_list_shows_the_lock()
    {
        var article = await Seed("locked");
        var edit = $"/articles/{article.Id}/edit";

        var locked = await PostFormAsync(edit, $"/articles/{article.Id}/lock", new() { ["lease"] = "15" });
        Assert.That(locked.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await locked.Content.ReadAsStringAsync());
        var stored = await Stored(article.Id);
        Assert.That(stored.IsLocked, Is.True);
        Assert.That(stored.LockExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(14)).And.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddMinutes(15)));
        Assert.That(await _client.GetStringAsync(edit), Does.Contain("id=\"unlock\"").And.Contain("Locked. Nobody can save changes until it is unlocked."));
        var until = stored.LockExpiresAt!.Value.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(await _client.GetStringAsync("/"), Does.Contain($"<span class=\"badge locked\">Locked</span><span class=\"lock-detail\"> until {until} UTC</span>"));

        var again = await PostFormAsync(edit, $"/articles/{article.Id}/lock", new());
        Assert.That(MessageParagraph().Match(await again.Content.ReadAsStringAsync()).Groups[1].Value, Does.StartWith("This article is already locked"));

        var unlocked = await PostFormAsync(edit, $"/articles/{article.Id}/unlock", new());
        Assert.That(unlocked.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That((await Stored(article.Id)).IsLocked, Is.False);
        Assert.That(await _client.GetStringAsync(edit), Does.Contain("id=\"lock\"").And.Contain("Unlocked."));
    }

    [Test]
    public async Task The_conflict_page_highlights_the_fields_that_differ()
    {
        var article = await Seed("conflict");
        var edit = $"/articles/{article.Id}/edit";
        await PostFormAsync(edit, edit, new() { ["version"] = "1", ["title"] = "theirs", ["body"] = "body" });

        var response = await PostFormAsync(edit, edit, new() { ["version"] = "1", ["title"] = "mine", ["body"] = "body" });
        var html = await response.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("<tr id=\"row-title\" class=\"differs\">").And.Contain("<tr id=\"row-body\">"), html);
        Assert.That((await Stored(article.Id)).Title, Is.EqualTo("theirs"));
    }
}
