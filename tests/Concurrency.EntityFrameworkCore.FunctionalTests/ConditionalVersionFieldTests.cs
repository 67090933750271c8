using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>[ConditionalVersionField(CheckFields = [Title])] on Document: Notes is unwatched.</summary>
public sealed class ConditionalVersionFieldTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task Changing_only_an_unwatched_property_does_not_bump_the_version([Values] bool async)
    {
        var document = await Add(new Document { Title = "t", Notes = "n" });
        await using var context = CreateContext();
        var loaded = await context.Documents.SingleAsync(x => x.Id == document.Id);
        loaded.Notes = "n2";
        await Save(context, async);
        Assert.That(loaded.Version, Is.EqualTo(1));

        loaded.Title = "t2";
        await Save(context, async);
        Assert.That(loaded.Version, Is.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Documents.SingleAsync(x => x.Id == document.Id);
        Assert.That((stored.Title, stored.Notes, stored.Version), Is.EqualTo(("t2", "n2", 2L)));
    }

    [Test]
    public async Task Another_writer_changing_only_unwatched_properties_does_not_make_a_stale_save_fail([Values] bool async)
    {
        var document = await Add(new Document { Title = "t", Notes = "n" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Documents.SingleAsync(x => x.Id == document.Id);
        var fromB = await b.Documents.SingleAsync(x => x.Id == document.Id);
        fromA.Notes = "from A";
        await Save(a, async);

        fromB.Title = "title from B";
        await Save(b, async);
        Assert.That(fromB.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Another_writer_changing_a_watched_property_makes_a_stale_save_fail_even_of_unwatched_ones([Values] bool async)
    {
        var document = await Add(new Document { Title = "t", Notes = "n" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Documents.SingleAsync(x => x.Id == document.Id);
        var fromB = await b.Documents.SingleAsync(x => x.Id == document.Id);
        fromA.Title = "title from A";
        await Save(a, async);

        fromB.Notes = "notes from B"; // unwatched, but the WHERE check still runs
        var exception = await ThrowsConflict(b, async);
        Assert.That(exception.ActualVersion, Is.EqualTo(2));
    }

    [Test]
    public async Task Watched_state_is_per_instance([Values] bool async)
    {
        var first = await Add(new Document { Title = "a", Notes = "a" });
        var second = await Add(new Document { Title = "b", Notes = "b" });
        await using var context = CreateContext();
        var one = await context.Documents.SingleAsync(x => x.Id == first.Id);
        var two = await context.Documents.SingleAsync(x => x.Id == second.Id);
        one.Title = "a2"; // watched
        two.Notes = "b2"; // unwatched
        await Save(context, async);
        Assert.That(one.Version, Is.EqualTo(2));
        Assert.That(two.Version, Is.EqualTo(1));
    }
}
