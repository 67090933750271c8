using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     The edges of what a version can be: the largest value of its type (never wraps, never stores what the property
///     cannot hold), a trigger version imported with a value, and ExecuteUpdate across TPT tables.
/// </summary>
[Category("Reliability")]
public sealed class VersionLimitTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task An_int_version_at_its_maximum_refuses_the_save_naming_the_row_and_the_fix([Values] bool async)
    {
        var counter = await Add(new Counter { Value = 1 });
        ExecuteRaw($"UPDATE \"Counters\" SET \"Version\" = {int.MaxValue} WHERE \"Id\" = {counter.Id}");

        await using var context = CreateContext();
        var loaded = await context.Counters.SingleAsync(c => c.Id == counter.Id);
        loaded.Value = 2;
        var exception = await SaveThrows<InvalidOperationException>(context, async);
        Assert.That(exception.Message, Does.Contain($"Counter(Id={counter.Id})").And.Contain("'Counter.Version'").And.Contain("Change the property to long"));
        Assert.That(loaded.Version, Is.EqualTo(int.MaxValue));

        await using var check = CreateContext();
        var stored = await check.Counters.SingleAsync(c => c.Id == counter.Id);
        Assert.That(stored.Value, Is.EqualTo(1));
        Assert.That(stored.Version, Is.EqualTo(int.MaxValue));
    }

    [Test]
    public async Task A_long_version_at_its_maximum_never_wraps_around([Values] bool async)
    {
        var article = await Add(new Article { Title = "old" });
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = {long.MaxValue} WHERE \"Id\" = {article.Id}");

        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id);
        loaded.Title = "new";
        var exception = await SaveThrows<InvalidOperationException>(context, async);
        Assert.That(exception.Message, Does.Contain("'Article.Version'").And.Contain(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("old"));
        Assert.That(stored.Version, Is.EqualTo(long.MaxValue));
    }

    [Test]
    public async Task ExecuteUpdate_of_a_row_at_the_maximum_fails_and_writes_nothing([Values] bool async)
    {
        var counter = await Add(new Counter { Value = 1 });
        var other = await Add(new Counter { Value = 1 });
        ExecuteRaw($"UPDATE \"Counters\" SET \"Version\" = {int.MaxValue} WHERE \"Id\" = {counter.Id}");

        await using var context = CreateContext();
        var query = context.Counters.Where(c => c.Id == counter.Id || c.Id == other.Id);
        if (async)
        {
            await Assert.ThatAsync(() => query.ExecuteUpdateAsync(s => s.SetProperty(c => c.Value, 5)), Throws.InstanceOf<Exception>());
        }
        else
        {
            Assert.That(() => query.ExecuteUpdate(s => s.SetProperty(c => c.Value, 5)), Throws.InstanceOf<Exception>());
        }

        await using var check = CreateContext();
        var stored = await check.Counters.Where(c => c.Id == counter.Id || c.Id == other.Id).OrderBy(c => c.Id).ToListAsync();
        Assert.That(stored.Select(c => c.Value), Is.EqualTo(new[] { 1, 1 }), "one statement: nothing written");
        Assert.That(stored[0].Version, Is.EqualTo(int.MaxValue), "the row can still be loaded");

        await check.Counters.Where(c => c.Id == other.Id).ExecuteUpdateAsync(s => s.SetProperty(c => c.Value, 6));
        Assert.That(await check.Counters.Where(c => c.Id == other.Id).Select(c => c.Version).SingleAsync(), Is.EqualTo(2));
    }

    [Test]
    public async Task ExecuteUpdate_of_a_derived_TPT_table_is_refused_with_the_way_out([Values] bool async)
    {
        var car = await Add(new Car { Make = "Fiat", Seats = 4 });
        await using var context = CreateContext();
        var query = context.Cars.Where(c => c.Id == car.Id);
        var exception = async
            ? await Assert.CatchAsync<InvalidOperationException>(() => query.ExecuteUpdateAsync(s => s.SetProperty(c => c.Seats, 2)))
            : Assert.Catch<InvalidOperationException>(() => query.ExecuteUpdate(s => s.SetProperty(c => c.Seats, 2)));
        Assert.That(exception!.Message, Does.Contain("'Seats', which is stored in table 'Cars'").And.Contain("stored in table 'Vehicles'").And.Contain("SaveChanges"));

        var rows = await query.ExecuteUpdateAsync(s => s.SetProperty(c => c.Make, "Fiat 500")); // base-table columns still work
        Assert.That(rows, Is.EqualTo(1));
        await using var check = CreateContext();
        var stored = await check.Cars.SingleAsync(c => c.Id == car.Id);
        Assert.That((stored.Seats, stored.Make, stored.Version), Is.EqualTo((4, "Fiat 500", 2L)));
    }

    [Test]
    public async Task A_trigger_version_keeps_a_positive_value_set_on_insert_and_starts_at_1_otherwise([Values] bool async)
    {
        await using var context = CreateContext();
        var imported = new Page { Content = "imported", Version = 42 };
        var fresh = new Page { Content = "fresh" };
        context.AddRange(imported, fresh);
        await Save(context, async);
        Assert.That((imported.Version, fresh.Version), Is.EqualTo((42L, 1L)));

        await using var check = CreateContext();
        Assert.That((await check.Pages.SingleAsync(p => p.Id == imported.Id)).Version, Is.EqualTo(42));
        Assert.That((await check.Pages.SingleAsync(p => p.Id == fresh.Id)).Version, Is.EqualTo(1));

        var page = await check.Pages.SingleAsync(p => p.Id == imported.Id);
        page.Content = "edited";
        await Save(check, async);
        Assert.That(page.Version, Is.EqualTo(43), "the trigger increments from the imported value");
    }
}
