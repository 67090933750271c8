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
    public async Task A_lease_on_the_sample_article_answers_400_naming_leaseSeconds_and_locks_nothing()
    {
        var article = await Seed("lease");

        var problem = await Problem(await _client.PutAsync($"/api/articles/{article.Id}/lock?leaseSeconds=60", null), 400);
        Assert.That(problem.GetProperty("errors").GetProperty("leaseSeconds")[0].GetString(), Is.EqualTo("This article can only be locked without a lease: leave out leaseSeconds."));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("'leaseSeconds'"));

        var stored = await Stored(article.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((false, 1L)), "nothing written");
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
}
