using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>ExecuteUpdate bumps versions in the same statement, so editors holding older copies see the bulk change.</summary>
public sealed class ExecuteUpdateTests(Provider provider) : DatabaseTestBase(provider)
{
    private static Task<int> Update<T>(IQueryable<T> query, Action<Microsoft.EntityFrameworkCore.Query.UpdateSettersBuilder<T>> setters, bool async)
        => async ? query.ExecuteUpdateAsync(setters) : Task.FromResult(query.ExecuteUpdate(setters));

    [Test]
    public async Task ExecuteUpdate_on_a_version_field_entity_bumps_the_version_and_stale_editors_get_a_conflict([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var editor = CreateContext();
        var loaded = await editor.Articles.SingleAsync(x => x.Id == article.Id);

        await using (var bulk = CreateContext())
        {
            var rows = await Update(bulk.Articles.Where(x => x.Id == article.Id), s => s.SetProperty(a => a.Title, a => a.Title + "!"), async);
            Assert.That(rows, Is.EqualTo(1));
        }

        await using (var check = CreateContext())
        {
            var stored = await check.Articles.SingleAsync(x => x.Id == article.Id);
            Assert.That((stored.Title, stored.Version), Is.EqualTo(("t!", 2L)));
        }

        loaded.Body = "edited from a stale copy";
        await ThrowsConflict(editor, async);
    }

    [Test]
    public async Task ExecuteUpdate_bumps_int_versions_and_each_row_by_its_own_value([Values] bool async)
    {
        var one = await Add(new Counter { Value = 1 });
        var two = await Add(new Counter { Value = 2, Version = 7 });
        await using var context = CreateContext();
        await Update(context.Counters.Where(x => x.Id == one.Id || x.Id == two.Id), s => s.SetProperty(c => c.Value, c => c.Value + 10), async);
        var stored = await context.Counters.AsNoTracking().Where(x => x.Id == one.Id || x.Id == two.Id).OrderBy(x => x.Id).ToListAsync();
        Assert.That(stored.Select(c => (c.Value, c.Version)), Is.EqualTo(new[] { (11, 2), (12, 8) }));
    }

    [Test]
    public async Task ExecuteUpdate_that_sets_the_version_itself_is_left_alone([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var context = CreateContext();
        await Update(context.Articles.Where(x => x.Id == article.Id), s => s.SetProperty(a => a.Version, 100L), async);
        Assert.That((await context.Articles.AsNoTracking().SingleAsync(x => x.Id == article.Id)).Version, Is.EqualTo(100));
    }

    [Test]
    public async Task Conditional_version_is_bumped_only_when_a_watched_property_is_set([Values] bool async)
    {
        var document = await Add(new Document { Title = "t", Notes = "n" });
        await using var context = CreateContext();
        await Update(context.Documents.Where(x => x.Id == document.Id), s => s.SetProperty(d => d.Notes, "bulk notes"), async);
        Assert.That((await context.Documents.AsNoTracking().SingleAsync(x => x.Id == document.Id)).Version, Is.EqualTo(1));
        await Update(context.Documents.Where(x => x.Id == document.Id), s => s.SetProperty(d => d.Title, "bulk title"), async);
        Assert.That((await context.Documents.AsNoTracking().SingleAsync(x => x.Id == document.Id)).Version, Is.EqualTo(2));
    }

    [Test]
    public async Task ExecuteUpdate_still_bumps_inside_DisableConcurrency([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var context = CreateContext();
        using (new DisableConcurrency())
        {
            await Update(context.Articles.Where(x => x.Id == article.Id), s => s.SetProperty(a => a.Title, "bulk"), async);
        }

        Assert.That((await context.Articles.AsNoTracking().SingleAsync(x => x.Id == article.Id)).Version, Is.EqualTo(2));
    }

    [Test]
    public async Task ExecuteUpdate_on_a_shadow_version_and_on_a_derived_type_bumps_too([Values] bool async)
    {
        var tag = await Add(new Tag { Name = "t" });
        var dog = await Add(new Dog { Name = "Rex", Breed = "mutt" });
        await using var context = CreateContext();
        await Update(context.Tags.Where(x => x.Id == tag.Id), s => s.SetProperty(t => t.Name, "t2"), async);
        await Update(context.Dogs.Where(x => x.Id == dog.Id), s => s.SetProperty(d => d.Breed, "collie"), async);
        var storedTag = await context.Tags.SingleAsync(x => x.Id == tag.Id);
        Assert.That(context.Entry(storedTag).GetVersion(), Is.EqualTo(2));
        Assert.That((await context.Dogs.AsNoTracking().SingleAsync(x => x.Id == dog.Id)).Version, Is.EqualTo(2));
    }
}
