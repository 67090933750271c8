using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>DisableConcurrency: last write wins for the disabled types, versions still go up, everything else stays checked.</summary>
public sealed class DisableConcurrencyTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task A_stale_save_inside_the_scope_wins_and_the_version_goes_on_from_the_database_value([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var stale = CreateContext();
        var loaded = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Title\" = 'other', \"Version\" = 5 WHERE \"Id\" = {article.Id}");

        loaded.Title = "bulk job";
        using (new DisableConcurrency())
        {
            await Save(stale, async);
        }

        Assert.That(loaded.Version, Is.EqualTo(6));
        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(x => x.Id == article.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("bulk job", 6L)));
    }

    [Test]
    public async Task A_stale_delete_inside_the_scope_succeeds([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var stale = CreateContext();
        var loaded = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 9 WHERE \"Id\" = {article.Id}");

        stale.Remove(loaded);
        using (new DisableConcurrency(typeof(Article)))
        {
            await Save(stale, async);
        }

        await using var check = CreateContext();
        Assert.That(await check.Articles.CountAsync(x => x.Id == article.Id), Is.Zero);
    }

    [Test]
    public async Task A_row_deleted_meanwhile_still_fails_inside_the_scope_and_is_not_reinserted([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        await using var stale = CreateContext();
        var loaded = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"DELETE FROM \"Articles\" WHERE \"Id\" = {article.Id}");

        loaded.Title = "too late";
        RecordModifiedException exception;
        using (new DisableConcurrency())
        {
            exception = await ThrowsConflict(stale, async);
        }

        Assert.That(exception.WasDeleted, Is.True);
        await using var check = CreateContext();
        Assert.That(await check.Articles.CountAsync(x => x.Id == article.Id), Is.Zero);

        // The transaction the scope opened is gone: the connection holds no lock.
        Assert.That(stale.Database.CurrentTransaction, Is.Null);
    }

    [Test]
    public async Task Other_types_stay_checked_and_checks_resume_after_the_scope([Values] bool async)
    {
        var article = await Add(new Article { Title = "t" });
        var counter = await Add(new Counter { Value = 1 });
        await using var stale = CreateContext();
        var loadedArticle = await stale.Articles.SingleAsync(x => x.Id == article.Id);
        var loadedCounter = await stale.Counters.SingleAsync(x => x.Id == counter.Id);
        ExecuteRaw($"UPDATE \"Articles\" SET \"Version\" = 3 WHERE \"Id\" = {article.Id}");
        ExecuteRaw($"UPDATE \"Counters\" SET \"Version\" = 3 WHERE \"Id\" = {counter.Id}");

        loadedArticle.Title = "disabled type";
        loadedCounter.Value = 100;
        using (new DisableConcurrency(typeof(Article)))
        {
            var exception = await ThrowsConflict(stale, async);
            Assert.That(exception.EntityType, Is.EqualTo(typeof(Counter)));
        }

        await using (var check = CreateContext())
        {
            Assert.That((await check.Articles.SingleAsync(x => x.Id == article.Id)).Title, Is.EqualTo("t"), "the whole SaveChanges rolled back");
        }

        stale.Entry(loadedCounter).State = EntityState.Unchanged;
        await ThrowsConflict(stale, async); // the scope ended: the article is checked again
    }

    [Test]
    public async Task Trigger_and_conditional_versions_also_win_inside_the_scope([Values] bool async)
    {
        var page = await Add(new Page { Content = "c" });
        var document = await Add(new Document { Title = "t", Notes = "n" });
        await using var stale = CreateContext();
        var loadedPage = await stale.Pages.SingleAsync(x => x.Id == page.Id);
        var loadedDocument = await stale.Documents.SingleAsync(x => x.Id == document.Id);
        ExecuteRaw($"UPDATE \"Pages\" SET \"Content\" = 'raw' WHERE \"Id\" = {page.Id}");
        ExecuteRaw($"UPDATE \"Documents\" SET \"Version\" = 4 WHERE \"Id\" = {document.Id}");

        loadedPage.Content = "bulk";
        loadedDocument.Title = "bulk";
        using (new DisableConcurrency())
        {
            await Save(stale, async);
        }

        Assert.That(loadedPage.Version, Is.EqualTo(3));
        Assert.That(loadedDocument.Version, Is.EqualTo(5));
    }

    [Test]
    public async Task Parallel_flows_inside_and_outside_scopes_never_see_each_others_state()
    {
        var articles = new List<Article>();
        for (var i = 0; i < 20; i++)
        {
            articles.Add(await Add(new Article { Title = "p" + i }));
        }

        // 200 flows; even ones disable checks, odd ones do not. Every flow makes a stale save of one row.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            await Task.Yield();
            var disabled = i % 2 == 0;
            using var scope = disabled ? new DisableConcurrency(typeof(Article)) : null;
            await Task.Delay(i % 7);
            var seen = DisableConcurrency.IsDisabledFor(typeof(Article));
            return (disabled, seen);
        }));

        Assert.That(outcomes.All(o => o.disabled == o.seen), Is.True);
        Assert.That(DisableConcurrency.IsActive, Is.False);

        // And against the database: 40 flows, each stale on its own row; only the disabled ones may succeed.
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var article = articles[i % 20];
            var disabled = i < 20;
            await using var context = CreateContext();
            var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
            context.Entry(loaded).ExpectVersion(loaded.Version - 1 < 1 ? 1000 : loaded.Version - 1); // certainly stale
            loaded.Title = "flow " + i;
            using var scope = disabled ? new DisableConcurrency() : null;
            await Task.Yield();
            try
            {
                await context.SaveChangesAsync();
                return (disabled, saved: true);
            }
            catch (RecordModifiedException)
            {
                return (disabled, saved: false);
            }
        }));

        Assert.That(results.Where(r => r.disabled).All(r => r.saved), Is.True, "every disabled flow wins");
        Assert.That(results.Where(r => !r.disabled).All(r => !r.saved), Is.True, "every checked flow is refused");
    }
}
