using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     Every way an application hands EF the version its client read must be checked against that version, including
///     EF Core's own documented idiom (setting the original value), which used to save over a newer row unnoticed.
/// </summary>
[Category("Reliability")]
public sealed class DisconnectedIdiomTests(Provider provider) : DatabaseTestBase(provider)
{
    public enum Idiom
    {
        OriginalValue,
        OriginalValuesSetValues,
        CurrentValue,
        CurrentValuesSetValues,
        ExpectVersion,
    }

    private static void Announce(VersionedContext context, Article loaded, long clientVersion, Idiom idiom)
    {
        var entry = context.Entry(loaded);
        var clientCopy = new Article { Id = loaded.Id, Title = loaded.Title, Body = loaded.Body, Version = clientVersion };
        switch (idiom)
        {
            case Idiom.OriginalValue:
                entry.Property(a => a.Version).OriginalValue = clientVersion;
                break;
            case Idiom.OriginalValuesSetValues:
                entry.OriginalValues.SetValues(clientCopy);
                break;
            case Idiom.CurrentValue:
                loaded.Version = clientVersion;
                break;
            case Idiom.CurrentValuesSetValues:
                entry.CurrentValues.SetValues(clientCopy);
                break;
            case Idiom.ExpectVersion:
                entry.ExpectVersion(clientVersion);
                break;
        }
    }

    private async Task<Article> AddAtVersion2()
    {
        var article = await Add(new Article { Title = "v1" });
        await using var other = CreateContext();
        (await other.Articles.SingleAsync(a => a.Id == article.Id)).Title = "v2 by someone else";
        await other.SaveChangesAsync();
        return article;
    }

    [Test]
    public async Task A_stale_client_version_conflicts_whichever_way_it_is_given([Values] bool async, [Values] Idiom idiom)
    {
        var article = await AddAtVersion2();

        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id); // loads version 2
        Announce(context, loaded, clientVersion: 1, idiom);
        loaded.Title = "stale edit";

        var conflict = await ThrowsConflict(context, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        Assert.That(conflict.ActualVersion, Is.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("v2 by someone else"));
        Assert.That(stored.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task A_current_client_version_saves_and_bumps_whichever_way_it_is_given([Values] bool async, [Values] Idiom idiom)
    {
        var article = await AddAtVersion2();

        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id);
        Announce(context, loaded, clientVersion: 2, idiom);
        loaded.Title = "current edit";
        await Save(context, async);

        Assert.That(loaded.Version, Is.EqualTo(3));
        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("current edit"));
        Assert.That(stored.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task An_entity_loaded_without_tracking_then_attached_is_checked_against_the_client_version([Values] bool async, [Values] Idiom idiom)
    {
        var article = await AddAtVersion2();

        await using var context = CreateContext();
        var loaded = await context.Articles.AsNoTracking().SingleAsync(a => a.Id == article.Id); // version 2, untracked
        context.Attach(loaded);
        Announce(context, loaded, clientVersion: 1, idiom);
        loaded.Title = "stale edit";

        var conflict = await ThrowsConflict(context, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(a => a.Id == article.Id)).Title, Is.EqualTo("v2 by someone else"));
    }

    [Test]
    public async Task An_entity_loaded_by_Include_is_checked_against_the_client_version([Values] bool tracked, [Values] Idiom idiom)
    {
        var article = await AddAtVersion2();
        int reviewId;
        await using (var setup = CreateContext())
        {
            var review = new Review { ArticleId = article.Id, Text = "r" };
            setup.Reviews.Add(review);
            await setup.SaveChangesAsync();
            reviewId = review.Id;
        }

        await using var context = CreateContext();
        var reviews = context.Reviews.Include(r => r.Article);
        var loaded = (tracked ? await reviews.SingleAsync(r => r.Id == reviewId) : await reviews.AsNoTracking().SingleAsync(r => r.Id == reviewId)).Article;
        Assert.That(loaded.Version, Is.EqualTo(2), "loaded through the navigation");
        if (!tracked)
        {
            context.Attach(loaded);
        }

        Announce(context, loaded, clientVersion: 1, idiom);
        loaded.Title = "stale edit";

        var conflict = await ThrowsConflict(context, async: true);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(a => a.Id == article.Id)).Title, Is.EqualTo("v2 by someone else"));
    }

    [Test]
    public async Task After_a_save_the_original_value_idiom_still_checks_the_client_version([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id);
        loaded.Title = "own edit";
        await Save(context, async); // version 2, accepted

        context.Entry(loaded).Property(a => a.Version).OriginalValue = 1L; // a client that still has version 1
        loaded.Title = "stale";
        var conflict = await ThrowsConflict(context, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
    }

    [Test]
    public async Task ExpectVersion_on_an_added_entity_is_refused()
    {
        await using var context = CreateContext();
        var entry = context.Add(new Article { Title = "new" });
        var exception = Assert.Throws<InvalidOperationException>(() => entry.ExpectVersion(7));
        Assert.That(exception!.Message, Does.Contain("'Article' is being added").And.Contain("set the 'Version' property itself"));
        await context.SaveChangesAsync();
        Assert.That(entry.Entity.Version, Is.EqualTo(1));
    }
}
