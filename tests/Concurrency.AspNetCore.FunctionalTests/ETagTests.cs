using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>ETags from versions, If-None-Match (304), If-Match (412 before any write), 428 and 400, on real Kestrel.</summary>
public sealed class ETagTests(Provider provider) : WebTestBase(provider)
{
    [Test]
    public async Task A_GET_carries_a_strong_ETag_and_If_None_Match_answers_304()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var first = await Send(HttpMethod.Get, $"/docs/{doc.Id}");
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var etag = ETagOf(first);
        Assert.That(first.Headers.ETag!.IsWeak, Is.False);
        Assert.That(etag, Does.EndWith("-1\""));

        var notModified = await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: etag);
        Assert.That(notModified.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
        Assert.That(ETagOf(notModified), Is.EqualTo(etag));
        Assert.That(await notModified.Content.ReadAsStringAsync(), Is.Empty);

        Assert.That((await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: "\"other\", " + etag)).StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
        Assert.That((await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: "*")).StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
        Assert.That((await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: "\"something-else\"")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Problem(await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: "no-quotes"), 400);
    }

    [Test]
    public async Task Tags_of_different_resources_never_compare_equal()
    {
        var a = await Seed(new Doc { Title = "a" });
        var b = await Seed(new Doc { Title = "b" });
        var tagA = ETagOf(await Send(HttpMethod.Get, $"/docs/{a.Id}"));
        var tagB = ETagOf(await Send(HttpMethod.Get, $"/docs/{b.Id}"));
        Assert.That(tagA, Is.Not.EqualTo(tagB), "same version 1, different resources");

        // B's tag on A: 412, nothing written.
        await Problem(await Send(HttpMethod.Put, $"/docs/{a.Id}", new DocChange("via b's tag"), ifMatch: tagB), 412);
        Assert.That((await StoredDoc(a.Id)).Title, Is.EqualTo("a"));
    }

    [Test]
    public async Task Tags_of_composite_keys_whose_parts_join_to_the_same_text_never_compare_equal()
    {
        var left = await Seed(new Pair { A = "a|b", B = "c", Title = "left" });
        var right = await Seed(new Pair { A = "a", B = "b|c", Title = "right" });
        var leftTag = ETagOf(await Send(HttpMethod.Get, PairUri(left)));
        var rightTag = ETagOf(await Send(HttpMethod.Get, PairUri(right)));
        Assert.That(leftTag, Is.Not.EqualTo(rightTag), "same version 1, different resources");

        // The right pair's tag on the left pair: 412, nothing written.
        var problem = await Problem(await Send(HttpMethod.Put, PairUri(left), new DocChange("via the other's tag"), ifMatch: rightTag), 412);
        Assert.That(problem.GetProperty("currentETag").GetString(), Is.EqualTo(leftTag));
        await using var context = CreateContext();
        var stored = await context.Pairs.AsNoTracking().SingleAsync(p => p.A == left.A && p.B == left.B);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("left", 1L)));
    }

    [Test]
    public async Task Keys_that_differ_below_a_second_get_different_tags()
    {
        var at = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await Seed(new Reading { Id = at });
        await Seed(new Reading { Id = at.AddMilliseconds(500) });

        await using var context = CreateContext();
        var readings = await context.Readings.OrderBy(r => r.Id).ToListAsync();
        Assert.That(readings, Has.Count.EqualTo(2));
        Assert.That(VersionETag.For(context.Entry(readings[0])), Is.Not.EqualTo(VersionETag.For(context.Entry(readings[1]))));
    }

    [Test]
    public async Task Tags_of_single_keys_stay_what_they_were()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var tag = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));

        // The tag as made before keys were escaped: a client's saved tag still matches after an upgrade.
        var resource = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{typeof(Doc).FullName}|{doc.Id}"))[..6]);
        Assert.That(tag, Is.EqualTo($"\"{resource}-1\""));
    }

    private static string PairUri(Pair pair)
        => $"/pairs/{Uri.EscapeDataString(pair.A)}/{Uri.EscapeDataString(pair.B)}";

    [Test]
    public async Task A_PUT_with_the_current_ETag_saves_and_answers_the_new_one()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var etag = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));

        var response = await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("b"), ifMatch: etag);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var newTag = ETagOf(response);
        Assert.That(newTag, Is.Not.EqualTo(etag).And.EndsWith("-2\""));
        Assert.That((await response.Content.ReadFromJsonAsync<Doc>())!.Version, Is.EqualTo(2));
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("b", 2L)));
    }

    [Test]
    public async Task A_PUT_with_a_stale_ETag_answers_412_with_the_current_one_and_writes_nothing()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var stale = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));
        var fresh = ETagOf(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("someone else"), ifMatch: stale));

        var response = await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("mine"), ifMatch: stale);
        var problem = await Problem(response, 412);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Precondition Failed"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Nothing was written"));
        Assert.That(problem.GetProperty("currentETag").GetString(), Is.EqualTo(fresh), "the current ETag, so the client can refresh");
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("someone else", 2L)));
    }

    [Test]
    public async Task Weak_tags_never_match_If_Match_and_star_matches_any_current_version()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var etag = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));

        await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("weak"), ifMatch: "W/" + etag), 412);
        var star = await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("star"), ifMatch: "*");
        Assert.That(star.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var list = await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("list"), ifMatch: $"\"x-1\", {ETagOf(star)}");
        Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.OK), "one of a list matching is enough");
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("list"));
    }

    [TestCase("*, \"x-1\"")]
    [TestCase("\"x-1\", *")]
    [TestCase("*, *")]
    public async Task A_star_in_If_Match_beside_anything_else_answers_400_and_writes_nothing(string ifMatch)
    {
        var doc = await Seed(new Doc { Title = "a" });

        var problem = await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("mixed"), ifMatch: ifMatch), 400);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("If-Match").And.Contain("* only alone"));
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("a", 1L)), "nothing written");
    }

    [TestCase("*, \"x-1\"")]
    [TestCase("\"x-1\", *")]
    public async Task A_star_in_If_None_Match_beside_anything_else_answers_400_on_reads_and_writes(string ifNoneMatch)
    {
        var doc = await Seed(new Doc { Title = "a" });

        var read = await Problem(await Send(HttpMethod.Get, $"/docs/{doc.Id}", ifNoneMatch: ifNoneMatch), 400);
        Assert.That(read.GetProperty("detail").GetString(), Does.Contain("If-None-Match").And.Contain("* only alone"));
        await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("mixed"), ifNoneMatch: ifNoneMatch), 400);
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("a", 1L)), "nothing written");
    }

    [Test]
    public async Task If_None_Match_star_on_a_write_to_an_existing_resource_answers_412()
    {
        var doc = await Seed(new Doc { Title = "a" });
        await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("create only"), ifNoneMatch: "*"), 412);
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("a"));
    }

    [Test]
    public async Task A_required_If_Match_that_is_missing_answers_428_and_a_malformed_one_400()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var missing = await Problem(await Send(HttpMethod.Put, $"/strict/docs/{doc.Id}", new DocChange("blind")), 428);
        Assert.That(missing.GetProperty("detail").GetString(), Does.Contain("If-Match"));
        var malformed = await Problem(await Send(HttpMethod.Put, $"/strict/docs/{doc.Id}", new DocChange("bad"), ifMatch: "abc-1"), 400);
        Assert.That(malformed.GetProperty("detail").GetString(), Does.Contain("not a valid list of entity tags"));

        // Where If-Match is optional, a write without it is checked against the version loaded by the request.
        Assert.That((await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("optional"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("optional"));
    }

    [Test]
    public async Task DELETE_with_the_current_ETag_answers_204_and_with_a_stale_one_412()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var stale = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));
        var fresh = ETagOf(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("b"), ifMatch: stale));

        await Problem(await Send(HttpMethod.Delete, $"/docs/{doc.Id}", ifMatch: stale), 412);
        await Problem(await Send(HttpMethod.Delete, $"/docs/{doc.Id}"), 428);
        Assert.That((await Send(HttpMethod.Delete, $"/docs/{doc.Id}", ifMatch: fresh)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That((await Send(HttpMethod.Get, $"/docs/{doc.Id}")).StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task A_stale_version_in_the_body_answers_409_problem_json_with_the_versions()
    {
        var doc = await Seed(new Doc { Title = "a" });
        Assert.That((await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("b", Version: 1))).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var response = await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("stale", Version: 1));
        var problem = await Problem(response, 409);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("The record was modified by someone else"));
        Assert.That(problem.GetProperty("entity").GetString(), Is.EqualTo("Doc"));
        Assert.That(problem.GetProperty("key").GetProperty("Id").GetInt32(), Is.EqualTo(doc.Id));
        Assert.That(problem.GetProperty("expectedVersion").GetInt64(), Is.EqualTo(1));
        Assert.That(problem.GetProperty("actualVersion").GetInt64(), Is.EqualTo(2));
        Assert.That(problem.GetProperty("wasDeleted").GetBoolean(), Is.False);
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("b"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Eight_clients_racing_with_the_same_ETag_exactly_one_wins_and_nothing_is_lost(CancellationToken cancellationToken)
    {
        var doc = await Seed(new Doc { Title = "start" });
        var etag = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}"));
        using var start = new SemaphoreSlim(0);

        var racing = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            await start.WaitAsync(cancellationToken);
            using var response = await Client.SendAsync(Request(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("client " + i), ifMatch: etag), cancellationToken);
            return (i, Status: (int)response.StatusCode);
        }, cancellationToken)).ToList();
        start.Release(8);
        var responses = await Task.WhenAll(racing);

        var winners = responses.Where(r => r.Status == 200).ToList();
        Assert.That(winners, Has.Count.EqualTo(1), string.Join(", ", responses.Select(r => r.Status)));
        Assert.That(responses.Where(r => r.Status != 200).Select(r => r.Status), Is.All.AnyOf(409, 412), "never a 500");
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("client " + winners[0].i, 2L)), "the winner's write, once");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task The_retry_helper_with_eight_concurrent_writers_loses_no_increment(CancellationToken cancellationToken)
    {
        var counter = await Seed(new Counter());
        const int perClient = 20;
        var succeeded = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var ok = 0;
            for (var i = 0; i < perClient; i++)
            {
                using var response = await Client.PostAsync($"/counters/{counter.Id}/increment", null, cancellationToken);
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync(cancellationToken));
                ok++;
            }

            return ok;
        }, cancellationToken)));

        await using var context = CreateContext();
        var stored = await context.Counters.FindAsync([counter.Id], cancellationToken);
        Assert.That(succeeded.Sum(), Is.EqualTo(8 * perClient));
        Assert.That(stored!.Value, Is.EqualTo(succeeded.Sum()), "final value equals the successful increments: lost updates 0");
        Assert.That(stored.Version, Is.EqualTo(succeeded.Sum() + 1));
    }

    [Test]
    public async Task An_MVC_controller_gets_the_same_ETag_304_412_and_428_answers()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var etag = ETagOf(await Send(HttpMethod.Get, $"/mvc/docs/{doc.Id}"));
        Assert.That((await Send(HttpMethod.Get, $"/mvc/docs/{doc.Id}", ifNoneMatch: etag)).StatusCode, Is.EqualTo(HttpStatusCode.NotModified));

        await Problem(await Send(HttpMethod.Put, $"/mvc/docs/{doc.Id}", new DocChange("blind")), 428);
        var saved = await Send(HttpMethod.Put, $"/mvc/docs/{doc.Id}", new DocChange("b"), ifMatch: etag);
        Assert.That(saved.StatusCode, Is.EqualTo(HttpStatusCode.OK), await saved.Content.ReadAsStringAsync());
        Assert.That(ETagOf(saved), Does.EndWith("-2\""));
        await Problem(await Send(HttpMethod.Put, $"/mvc/docs/{doc.Id}", new DocChange("stale"), ifMatch: etag), 412);
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("b"));
    }
}
