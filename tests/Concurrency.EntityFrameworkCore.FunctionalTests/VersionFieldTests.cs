using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>[VersionField]: insert, update, delete, rollback, ExpectVersion and IsChanged against real databases.</summary>
public sealed class VersionFieldTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task Insert_starts_at_version_1_and_keeps_a_positive_version_set_by_the_application([Values] bool async)
    {
        await using var context = CreateContext();
        var fresh = new Article { Title = "fresh" };
        var imported = new Article { Title = "imported", Version = 42 };
        context.AddRange(fresh, imported);
        await Save(context, async);

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(a => a.Id == fresh.Id)).Version, Is.EqualTo(1));
        Assert.That((await check.Articles.SingleAsync(a => a.Id == imported.Id)).Version, Is.EqualTo(42));
    }

    [Test]
    public async Task Update_increments_the_version_and_a_stale_save_throws_and_changes_nothing([Values] bool async)
    {
        var article = await Add(new Article { Title = "original" });

        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Articles.SingleAsync(x => x.Id == article.Id);
        var fromB = await b.Articles.SingleAsync(x => x.Id == article.Id);

        fromA.Title = "A";
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));

        fromB.Title = "B";
        var exception = await ThrowsConflict(b, async);

        Assert.That(exception, Is.InstanceOf<DbUpdateConcurrencyException>());
        Assert.That(exception.EntityType, Is.EqualTo(typeof(Article)));
        Assert.That(exception.Key["Id"], Is.EqualTo(article.Id));
        Assert.That(exception.ExpectedVersion, Is.EqualTo(1));
        Assert.That(exception.ActualVersion, Is.EqualTo(2));
        Assert.That(exception.WasDeleted, Is.False);
        Assert.That(exception.Message, Does.StartWith($"Article(Id={article.Id}) was modified by someone else: expected version 1, found 2."));
        Assert.That(fromB.Version, Is.EqualTo(1), "the failed save must leave the loaded version in place");

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(x => x.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("A"));
        Assert.That(stored.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Stale_delete_throws_and_the_row_survives([Values] bool async)
    {
        var article = await Add(new Article { Title = "keep me" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Articles.SingleAsync(x => x.Id == article.Id);
        var fromB = await b.Articles.SingleAsync(x => x.Id == article.Id);
        fromA.Title = "edited";
        await Save(a, async);

        b.Remove(fromB);
        var exception = await ThrowsConflict(b, async);
        Assert.That(exception.ActualVersion, Is.EqualTo(2));

        await using var check = CreateContext();
        Assert.That(await check.Articles.CountAsync(x => x.Id == article.Id), Is.EqualTo(1));
    }

    [Test]
    public async Task Saving_or_deleting_a_row_deleted_meanwhile_reports_WasDeleted_and_never_reinserts([Values] bool async, [Values] bool delete)
    {
        var article = await Add(new Article { Title = "doomed" });
        await using var stale = CreateContext();
        var loaded = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"DELETE FROM \"Articles\" WHERE \"Id\" = {article.Id}");

        if (delete)
        {
            stale.Remove(loaded);
        }
        else
        {
            loaded.Title = "resurrected?";
        }

        var exception = await ThrowsConflict(stale, async);
        Assert.That(exception.WasDeleted, Is.True);
        Assert.That(exception.ActualVersion, Is.Null);
        Assert.That(exception.Message, Does.Contain("was deleted by someone else"));

        await using var check = CreateContext();
        Assert.That(await check.Articles.CountAsync(x => x.Id == article.Id), Is.Zero);
    }

    [Test]
    public async Task One_conflict_rolls_back_the_whole_SaveChanges([Values] bool async)
    {
        var first = await Add(new Article { Title = "first" });
        var second = await Add(new Article { Title = "second" });

        await using var stale = CreateContext();
        var staleSecond = await stale.Articles.SingleAsync(x => x.Id == second.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = \"Version\" + 1 WHERE \"Id\" = {second.Id}");

        var staleFirst = await stale.Articles.SingleAsync(x => x.Id == first.Id);
        staleFirst.Title = "first, changed";
        staleSecond.Title = "second, changed";
        stale.Add(new Article { Title = "brand new" });
        await ThrowsConflict(stale, async);

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(x => x.Id == first.Id)).Title, Is.EqualTo("first"));
        Assert.That((await check.Articles.SingleAsync(x => x.Id == first.Id)).Version, Is.EqualTo(1));
        Assert.That(await check.Articles.CountAsync(x => x.Title == "brand new"), Is.Zero);
    }

    [Test]
    public async Task After_a_conflict_reloading_and_saving_again_succeeds([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        await using var stale = CreateContext();
        var loaded = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Title\" = 'other', \"Version\" = 2 WHERE \"Id\" = {article.Id}");

        loaded.Title = "mine";
        await ThrowsConflict(stale, async);

        if (async)
        {
            await stale.Entry(loaded).ReloadAsync();
        }
        else
        {
            stale.Entry(loaded).Reload();
        }

        loaded.Title = "mine, on top of theirs";
        await Save(stale, async);
        Assert.That(loaded.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task ExpectVersion_with_a_stale_client_version_throws_and_with_the_current_one_saves([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 2 WHERE \"Id\" = {article.Id}");

        await using (var context = CreateContext())
        {
            var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
            context.Entry(loaded).ExpectVersion(1); // what the client read before the other change
            loaded.Title = "from a stale form";
            var exception = await ThrowsConflict(context, async);
            Assert.That(exception.ExpectedVersion, Is.EqualTo(1));
            Assert.That(exception.ActualVersion, Is.EqualTo(2));
        }

        await using (var context = CreateContext())
        {
            var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
            context.Entry(loaded).ExpectVersion(2);
            loaded.Title = "from a fresh form";
            await Save(context, async);
            Assert.That(context.Entry(loaded).GetVersion(), Is.EqualTo(3));
        }
    }

    [Test]
    public async Task A_client_version_written_into_the_property_is_checked_too([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 2 WHERE \"Id\" = {article.Id}");

        // The classic EF trap: setting the current value makes EF check the loaded value, i.e. nothing.
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        loaded.Version = 1;
        loaded.Title = "from a stale DTO";
        await ThrowsConflict(context, async);

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(x => x.Id == article.Id)).Title, Is.EqualTo("v1"));
    }

    [Test]
    public async Task Detached_entity_attached_with_the_client_version_is_checked([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 2 WHERE \"Id\" = {article.Id}");

        await using var context = CreateContext();
        context.Update(new Article { Id = article.Id, Title = "posted", Version = 1 });
        await ThrowsConflict(context, async);

        await using var fresh = CreateContext();
        var posted = new Article { Id = article.Id, Title = "posted", Version = 2 };
        fresh.Update(posted);
        await Save(fresh, async);
        Assert.That(posted.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task IsChanged_tells_whether_the_row_moved_on_or_disappeared([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);

        async Task<bool> IsChanged() => async ? await context.IsChangedAsync(loaded) : context.IsChanged(loaded);

        Assert.That(await IsChanged(), Is.False);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 2 WHERE \"Id\" = {article.Id}");
        Assert.That(await IsChanged(), Is.True);
        context.Entry(loaded).ExpectVersion(2);
        Assert.That(await IsChanged(), Is.False);
        ExecuteRaw($"DELETE FROM \"Articles\" WHERE \"Id\" = {article.Id}");
        Assert.That(await IsChanged(), Is.True);
    }

    [Test]
    public async Task Int_version_fields_work_like_long_ones([Values] bool async)
    {
        var counter = await Add(new Counter { Value = 1 });
        await using var a = CreateContext();
        await using var b = CreateContext();
        var fromA = await a.Counters.SingleAsync(x => x.Id == counter.Id);
        var fromB = await b.Counters.SingleAsync(x => x.Id == counter.Id);
        fromA.Value++;
        await Save(a, async);
        fromB.Value++;
        var exception = await ThrowsConflict(b, async);
        Assert.That(exception.ExpectedVersion, Is.EqualTo(1));
        Assert.That(exception.ActualVersion, Is.EqualTo(2));
    }

    [Test]
    public async Task With_automatic_change_detection_off_the_version_is_still_bumped_and_checked([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var a = CreateContext();
        await using var b = CreateContext();
        a.ChangeTracker.AutoDetectChangesEnabled = false;
        b.ChangeTracker.AutoDetectChangesEnabled = false;
        var fromA = await a.Articles.SingleAsync(x => x.Id == article.Id);
        var fromB = await b.Articles.SingleAsync(x => x.Id == article.Id);

        fromA.Title = "a";
        a.ChangeTracker.DetectChanges();
        await Save(a, async);
        Assert.That(fromA.Version, Is.EqualTo(2));

        fromB.Title = "b";
        b.ChangeTracker.DetectChanges();
        await ThrowsConflict(b, async);

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(x => x.Id == article.Id)).Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Unchanged_entities_are_not_written_and_keep_their_version([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        Assert.That(await Save(context, async), Is.Zero);
        Assert.That(loaded.Version, Is.EqualTo(1));
    }
}
