using System.Globalization;
using System.Net;
using System.Text.Json;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     The <c>detail</c> of a 409/423 problem is written for the person using the application, not for its developer:
///     the machine-readable extensions stay, and the exception's message (advice for the developer) goes to the log.
/// </summary>
public sealed class ClientMessageTests(Provider provider) : WebTestBase(provider)
{
    private static readonly string[] DeveloperWords = ["RecordModifiedException", "Conflicts", "UnlockAsync", "SaveChanges", "force: true", "Id="];

    private static void AssertWrittenForUsers(JsonElement problem, string expected)
    {
        var detail = problem.GetProperty("detail").GetString();
        Assert.That(detail, Is.EqualTo(expected));
        foreach (var word in DeveloperWords)
        {
            Assert.That(detail, Does.Not.Contain(word), "developer advice in a text for users");
        }
    }

    private static string Until(JsonElement problem)
        => problem.GetProperty("lockExpiresAt").GetDateTimeOffset().ToString("u", CultureInfo.InvariantCulture);

    [Test]
    public async Task A_stale_write_answers_409_with_a_text_for_users_the_versions_for_programs_and_the_advice_in_the_log()
    {
        var doc = await Seed(new Doc { Title = "a" });
        Assert.That((await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("theirs", Version: 1))).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var problem = await Problem(await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("mine", Version: 1)), 409);

        AssertWrittenForUsers(
            problem,
            "This doc was changed by someone else after you loaded it. Nothing of your change was saved. Reload it to see the "
            + "current version, then apply your change again.");
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("The record was modified by someone else"));
        Assert.That(problem.GetProperty("entity").GetString(), Is.EqualTo("Doc"));
        Assert.That(problem.GetProperty("key").GetProperty("Id").GetInt32(), Is.EqualTo(doc.Id));
        Assert.That((problem.GetProperty("expectedVersion").GetInt64(), problem.GetProperty("actualVersion").GetInt64()), Is.EqualTo((1L, 2L)));
        Assert.That(problem.GetProperty("wasDeleted").GetBoolean(), Is.False);
        Assert.That(App.Log.Messages, Has.Some.Contains($"Doc(Id={doc.Id}) was modified by someone else: expected version 1, found 2")
            .And.Some.Contains("RecordModifiedException and use its Conflicts to merge"), "the developer's advice is in the log");
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("theirs", 2L)), "nothing of the stale write");
    }

    [Test]
    public async Task An_edit_of_a_locked_record_answers_a_text_for_users_and_the_lock_for_programs()
    {
        var doc = await Seed(new Doc { Title = "a" });
        var tag = ETagOf(await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock"));

        var problem = await Problem(await Send(HttpMethod.Put, $"/docs/{doc.Id}", new DocChange("edit"), ifMatch: tag), 409);

        AssertWrittenForUsers(problem, "This doc is locked, so it cannot be changed now. Nothing of your change was saved. Try again after it is unlocked.");
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("The record is locked"));
        Assert.That(problem.GetProperty("entity").GetString(), Is.EqualTo("Doc"));
        Assert.That(problem.GetProperty("key").GetProperty("Id").GetInt32(), Is.EqualTo(doc.Id));
        Assert.That(App.Log.Messages, Has.Some.Contains("Unlock it first (context.UnlockAsync)"), "the developer's advice is in the log");
        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.Version), Is.EqualTo(("a", true, 2L)));
    }

    [Test]
    public async Task The_lock_endpoints_tell_users_who_holds_the_lock_and_until_when()
    {
        var ticket = await Seed(new Ticket { Title = "bug" });
        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var edit = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}", new DocChange("bob's edit"), user: "bob"), 409);
        AssertWrittenForUsers(
            edit,
            $"This ticket is locked by alice until {Until(edit)}, so it cannot be changed now. Nothing of your change was saved. "
            + "Try again after it is unlocked or the lock runs out.");
        Assert.That(edit.GetProperty("lockedBy").GetString(), Is.EqualTo("alice"));

        var unlock = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock", user: "bob"), 409);
        Assert.That(unlock.GetProperty("detail").GetString(), Does.StartWith($"This ticket is locked by alice until {Until(unlock)}"));

        var again = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "bob"), 409);
        AssertWrittenForUsers(again, $"This ticket is already locked by alice until {Until(again)}.");

        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock", user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var notLocked = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock", user: "alice"), 409);
        AssertWrittenForUsers(notLocked, "This ticket is not locked.");

        var stored = await StoredTicket(ticket.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.Version), Is.EqualTo(("bug", false, 3L)), "only the lock and the unlock were written");
    }
}

/// <summary>The texts for users are the application's to choose: <c>AddConcurrencyProblemDetails(o => o.ConflictMessage = ...)</c>.</summary>
public sealed class ClientMessageOptionsTests(Provider provider) : WebTestBase(provider)
{
    protected override void ConfigureHttp(ConcurrencyHttpOptions options)
    {
        options.ConflictMessage = e => e is RecordModifiedException m ? $"Quelqu'un d'autre a modifié ce {m.EntityType.Name} (version {m.ActualVersion})." : "Conflit.";
        options.LockMessage = e => $"Verrouillé par {e.LockedBy ?? "quelqu'un"}.";
    }

    [Test]
    public async Task The_configured_texts_become_the_detail_and_the_extensions_stay()
    {
        var doc = await Seed(new Doc { Title = "a" });
        Assert.That((await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("theirs", Version: 1))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var conflict = await Problem(await Send(HttpMethod.Put, $"/body/docs/{doc.Id}", new DocChange("mine", Version: 1)), 409);
        Assert.That(conflict.GetProperty("detail").GetString(), Is.EqualTo("Quelqu'un d'autre a modifié ce Doc (version 2)."));
        Assert.That(conflict.GetProperty("expectedVersion").GetInt64(), Is.EqualTo(1));

        var ticket = await Seed(new Ticket { Title = "bug" });
        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var locked = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}", new DocChange("bob's edit"), user: "bob"), 409);
        Assert.That(locked.GetProperty("detail").GetString(), Is.EqualTo("Verrouillé par alice."));
        Assert.That(locked.GetProperty("lockedBy").GetString(), Is.EqualTo("alice"));
        var again = await Problem(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "bob"), 409);
        Assert.That(again.GetProperty("detail").GetString(), Is.EqualTo("Verrouillé par alice."));

        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("theirs"));
    }

    [Test]
    public void A_null_text_is_refused_when_configured()
    {
        var options = new ConcurrencyHttpOptions();
        Assert.Throws<ArgumentNullException>(() => options.ConflictMessage = null!);
        Assert.Throws<ArgumentNullException>(() => options.LockMessage = null!);
    }
}
