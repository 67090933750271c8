using System.Net;
using System.Net.Http.Json;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>The lock/unlock endpoints and the lock errors over HTTP: 200, 404, 409 (or 423), 403, and the stale-lock holes.</summary>
public abstract class ObjectLockEndpointTestsBase(Provider provider) : WebTestBase(provider)
{
    [Test]
    public async Task Lock_and_unlock_answer_200_with_the_entity_and_409_when_already_in_that_state()
    {
        var doc = await Seed(new Doc { Title = "a" });

        var locked = await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock");
        Assert.That(locked.StatusCode, Is.EqualTo(HttpStatusCode.OK), await locked.Content.ReadAsStringAsync());
        var body = await locked.Content.ReadFromJsonAsync<Doc>();
        Assert.That((body!.IsLocked, body.Version), Is.EqualTo((true, 2L)));
        Assert.That(ETagOf(locked), Does.EndWith("-2\""), "the new ETag, since locking changes the row");

        var again = await Problem(await Send(HttpMethod.Patch, $"/docs/{doc.Id}/lock"), 409);
        Assert.That(again.GetProperty("title").GetString(), Is.EqualTo("The record is already locked"));

        Assert.That((await Send(HttpMethod.Patch, $"/docs/{doc.Id}/unlock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var notLocked = await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}/unlock"), 409);
        Assert.That(notLocked.GetProperty("title").GetString(), Is.EqualTo("The record is not locked"));

        await Problem(await Send(HttpMethod.Put, "/docs/999999/lock"), 404);
    }

    [Test]
    public async Task Editing_a_locked_record_answers_the_lock_error_and_a_stale_copy_cannot_get_around_it()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var staleTag = ETagOf(await Send(HttpMethod.Get, $"/docs/{doc.Id}")); // read before the lock
        var lockedTag = ETagOf(await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock"));

        // With the old ETag: stale, 412 before anything else.
        await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("stale"), ifMatch: staleTag), 412);

        // With the current ETag, or *, or a body: the lock refuses it, checked against the database.
        foreach (var ifMatch in new[] { lockedTag, "*" })
        {
            var problem = await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("edit"), ifMatch: ifMatch), LockedStatus);
            Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("The record is locked"));
            Assert.That(problem.GetProperty("entity").GetString(), Is.EqualTo("Doc"));
        }

        await Problem(await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("edit", Version: 2)), LockedStatus);
        await Problem(await Send(HttpMethod.Delete, $"/docs/{doc.Id}", ifMatch: lockedTag), LockedStatus);

        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.Version), Is.EqualTo(("a", true, 2L)), "nothing written, not unlocked, not deleted");
    }

    protected abstract int LockedStatus { get; }

    [Test]
    public async Task The_owner_edits_others_get_who_holds_the_lock_and_only_an_admin_may_force_an_unlock()
    {
        var ticket = await Seed(new Ticket { Title = "bug" });
        var locked = await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock?leaseSeconds=600", user: "alice");
        Assert.That(locked.StatusCode, Is.EqualTo(HttpStatusCode.OK), await locked.Content.ReadAsStringAsync());
        var body = await locked.Content.ReadFromJsonAsync<Ticket>();
        Assert.That(body!.LockedBy, Is.EqualTo("alice"));
        Assert.That(body.LockExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(9)).And.LessThan(DateTimeOffset.UtcNow.AddMinutes(11)));

        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}", new DocChange("alice's fix"), user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var bob = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}", new DocChange("bob's edit"), user: "bob"), LockedStatus);
        Assert.That(bob.GetProperty("lockedBy").GetString(), Is.EqualTo("alice"));
        Assert.That(bob.GetProperty("lockExpiresAt").GetDateTimeOffset(), Is.EqualTo(body.LockExpiresAt!.Value).Within(TimeSpan.FromMilliseconds(1)));

        await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock", user: "bob"), LockedStatus);
        await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock?force=true", user: "bob"), 403);
        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock?force=true", user: "carol", role: "admin")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}", new DocChange("bob's edit"), user: "bob")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Of_eight_clients_locking_at_once_exactly_one_gets_200(CancellationToken cancellationToken)
    {
        var doc = await Seed(new Doc { Title = "race" });
        var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            using var response = await Client.SendAsync(Request(HttpMethod.Put, $"/docs/{doc.Id}/lock"), cancellationToken);
            return (int)response.StatusCode;
        }, cancellationToken)));

        Assert.That(statuses.Count(s => s == 200), Is.EqualTo(1), string.Join(", ", statuses));
        Assert.That(statuses.Where(s => s != 200), Is.All.EqualTo(409));
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((true, 2L)));
    }
}

/// <summary>With the default: a locked record answers 409 Conflict.</summary>
public sealed class ObjectLockEndpointTests(Provider provider) : ObjectLockEndpointTestsBase(provider)
{
    protected override int LockedStatus
        => 409;
}

/// <summary>The same, with <c>ObjectLockedStatusCode = 423</c>.</summary>
public sealed class ObjectLockEndpoint423Tests(Provider provider) : ObjectLockEndpointTestsBase(provider)
{
    protected override int LockedStatus
        => 423;

    protected override void ConfigureHttp(ConcurrencyHttpOptions options)
        => options.ObjectLockedStatusCode = 423;
}
