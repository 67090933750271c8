using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     Every route and query parameter of the lock/unlock endpoints is checked before anything is written: a value the
///     endpoint cannot use answers 400 problem+json naming the parameter, never a 500 and never a lock it was not asked for.
/// </summary>
public sealed class ObjectLockEndpointParameterTests(Provider provider) : WebTestBase(provider)
{
    /// <summary>Asserts a 400 whose <c>errors</c> name <paramref name="parameter" /> and whose <c>detail</c> says what is allowed.</summary>
    private static async Task<JsonElement> BadParameter(HttpResponseMessage response, string parameter, string allowed)
    {
        var problem = await Problem(response, 400);
        Assert.That(problem.GetProperty("errors").TryGetProperty(parameter, out var errors), Is.True, problem.ToString());
        Assert.That(errors[0].GetString(), Does.Contain(allowed), problem.ToString());
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain($"'{parameter}'").And.Contain(allowed));
        return problem;
    }

    [Test]
    public async Task A_lease_on_a_type_without_a_lease_property_answers_400_naming_leaseSeconds_and_locks_nothing()
    {
        var doc = await Seed(new Doc { Title = "a" });

        var problem = await BadParameter(await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock?leaseSeconds=60"), "leaseSeconds", "without a lease");
        Assert.That(problem.GetProperty("detail").GetString(), Does.Not.Contain("ILeasedLockable"), "no developer advice for an HTTP client");

        var stored = await StoredDoc(doc.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((false, 1L)), "nothing written");
        Assert.That((await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "without a lease it locks");
    }

    [TestCase("abc")]
    [TestCase("-5")]
    [TestCase("0")]
    [TestCase("")]
    [TestCase("1.5")]
    [TestCase("+5")]
    [TestCase("2147483648")]
    [TestCase("99999999999999999999")]
    [TestCase("5&leaseSeconds=6")]
    public async Task A_leaseSeconds_that_is_not_a_positive_whole_number_answers_400_and_locks_nothing(string value)
    {
        var ticket = await Seed(new Ticket { Title = "bug" });

        await BadParameter(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock?leaseSeconds={value}", user: "alice"), "leaseSeconds", "from 1 to 2147483647");

        var stored = await StoredTicket(ticket.Id);
        Assert.That((stored.IsLocked, stored.LockedBy, stored.Version), Is.EqualTo((false, (string?)null, 1L)), "nothing written");
    }

    [Test]
    public async Task The_largest_leaseSeconds_is_capped_by_the_endpoint_lease()
    {
        var ticket = await Seed(new Ticket { Title = "bug" });

        var locked = await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock?leaseSeconds=2147483647", user: "alice");
        Assert.That(locked.StatusCode, Is.EqualTo(HttpStatusCode.OK), await locked.Content.ReadAsStringAsync());
        var body = await locked.Content.ReadFromJsonAsync<Ticket>();
        Assert.That(body!.LockExpiresAt, Is.LessThanOrEqualTo(DateTimeOffset.UtcNow.AddMinutes(30)), "capped by o.Lease (30 minutes)");
    }

    [TestCase("notabool")]
    [TestCase("1")]
    [TestCase("")]
    [TestCase("true&force=false")]
    public async Task A_force_that_is_not_true_or_false_answers_400_and_unlocks_nothing(string value)
    {
        var ticket = await Seed(new Ticket { Title = "bug" });
        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

        await BadParameter(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/unlock?force={value}", user: "carol", role: "admin"), "force", "true or false");

        var stored = await StoredTicket(ticket.Id);
        Assert.That((stored.IsLocked, stored.LockedBy, stored.Version), Is.EqualTo((true, "alice", 2L)), "still alice's lock");
    }

    [Test]
    public async Task A_parameter_of_the_other_endpoint_answers_400_and_changes_nothing()
    {
        var ticket = await Seed(new Ticket { Title = "bug" });

        await BadParameter(await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock?force=true", user: "alice"), "force", "only to unlock");
        Assert.That((await StoredTicket(ticket.Id)).IsLocked, Is.False);

        Assert.That((await Send(HttpMethod.Put, $"/tickets/{ticket.Id}/lock", user: "alice")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await BadParameter(await Send(HttpMethod.Patch, $"/tickets/{ticket.Id}/unlock?leaseSeconds=60", user: "alice"), "leaseSeconds", "only to lock");
        var stored = await StoredTicket(ticket.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((true, 2L)), "still locked");
    }

    [TestCase("abc")]
    [TestCase("1.5")]
    [TestCase("99999999999")]
    [TestCase("%20")]
    public async Task An_id_that_is_not_a_key_answers_400_naming_id(string id)
    {
        await BadParameter(await Send(HttpMethod.Put, $"/docs/{id}/lock"), "id", "Int32");
        await BadParameter(await Send(HttpMethod.Put, $"/docs/{id}/unlock"), "id", "Int32");
    }

    [Test]
    public async Task String_and_enum_keys_are_read_from_the_route()
    {
        await Seed(new Label { Id = "a b" });
        await Seed(new Shelf { Id = Color.Green });

        Assert.That((await Send(HttpMethod.Put, "/labels/a%20b/lock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Problem(await Send(HttpMethod.Put, "/labels/missing/lock"), 404);
        Assert.That((await Send(HttpMethod.Put, "/shelves/Green/lock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Problem(await Send(HttpMethod.Put, "/shelves/Red/lock"), 404);
        await BadParameter(await Send(HttpMethod.Put, "/shelves/Purple/lock"), "id", "Color");

        await using var context = CreateContext();
        Assert.That((await context.Labels.SingleAsync(l => l.Id == "a b")).IsLocked, Is.True);
        Assert.That((await context.Shelves.SingleAsync(l => l.Id == Color.Green)).IsLocked, Is.True);
    }

    [Test]
    public async Task A_bad_parameter_answers_400_before_an_unknown_id_answers_404()
    {
        await BadParameter(await Send(HttpMethod.Put, "/tickets/999999/lock?leaseSeconds=abc"), "leaseSeconds", "from 1 to 2147483647");
        await Problem(await Send(HttpMethod.Put, "/tickets/999999/lock?leaseSeconds=60"), 404);
    }
}
