using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>The values a conflict carries, the ways to resolve it, and the retry helper.</summary>
public sealed class ConflictResolutionTests(Provider provider) : DatabaseTestBase(provider)
{
    /// <summary>Someone else's edit, made with raw SQL on another connection.</summary>
    private void EditElsewhere(int id, string title, string body)
        => ExecuteRaw($"UPDATE \"Articles\" SET \"Title\" = '{title}', \"Body\" = '{body}', \"Version\" = \"Version\" + 1 WHERE \"Id\" = {id}");

    private async Task<(VersionedContext Context, Article Loaded, RecordModifiedException Conflict)> ConflictAsync(
        bool async,
        Action<Article> change,
        string otherTitle = "theirs",
        string otherBody = "body")
    {
        var article = await Add(new Article { Title = "title", Body = "body" });
        var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        EditElsewhere(article.Id, otherTitle, otherBody);
        change(loaded);
        var conflict = await ThrowsConflict(context, async);
        return (context, loaded, conflict);
    }

    private async Task<Article> StoredAsync(int id)
    {
        await using var check = CreateContext();
        return await check.Articles.SingleAsync(x => x.Id == id);
    }

    [Test]
    public async Task A_conflict_carries_what_the_client_loaded_what_it_proposed_and_what_the_database_holds([Values] bool async)
    {
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Title = "mine");
        await using var _ = context;
        var conflict = exception.Conflicts.Single();

        Assert.That(conflict.OriginalValues[nameof(Article.Title)], Is.EqualTo("title"));
        Assert.That(conflict.ProposedValues[nameof(Article.Title)], Is.EqualTo("mine"));
        Assert.That(conflict.OriginalValues[nameof(Article.Version)], Is.EqualTo(1L), "the copies show the application's versions, not the save's bump");
        Assert.That(conflict.ProposedValues[nameof(Article.Version)], Is.EqualTo(1L));
        Assert.That(conflict.DatabaseValues, Is.Null, "read only when asked for");

        var database = async ? await conflict.GetDatabaseValuesAsync() : conflict.GetDatabaseValues();
        Assert.That(database![nameof(Article.Title)], Is.EqualTo("theirs"));
        Assert.That(database[nameof(Article.Version)], Is.EqualTo(2L));
        Assert.That(conflict.DatabaseValues, Is.SameAs(database));
        Assert.That(async ? await conflict.GetDatabaseValuesAsync() : conflict.GetDatabaseValues(), Is.SameAs(database), "read once");

        // The copies do not move when the entity does.
        loaded.Title = "changed again";
        Assert.That(conflict.ProposedValues[nameof(Article.Title)], Is.EqualTo("mine"));
    }

    [Test]
    public async Task Keeping_the_databases_values_discards_the_change_and_saves_nothing([Values] bool async)
    {
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Title = "mine");
        await using var _ = context;
        var conflict = exception.Conflicts.Single();

        if (async)
        {
            await conflict.KeepDatabaseValuesAsync();
        }
        else
        {
            conflict.KeepDatabaseValues();
        }

        Assert.That((loaded.Title, loaded.Version), Is.EqualTo(("theirs", 2L)));
        Assert.That(context.Entry(loaded).State, Is.EqualTo(EntityState.Unchanged));
        Assert.That(await Save(context, async), Is.Zero);

        // The entity is current again: the next edit saves normally.
        loaded.Body = "after";
        await Save(context, async);
        var stored = await StoredAsync(loaded.Id);
        Assert.That((stored.Title, stored.Body, stored.Version), Is.EqualTo(("theirs", "after", 3L)));
    }

    [Test]
    public async Task Keeping_the_clients_values_writes_its_whole_view_over_the_current_version([Values] bool async)
    {
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Title = "mine", otherBody: "their body");
        await using var _ = context;
        var conflict = exception.Conflicts.Single();

        if (async)
        {
            await conflict.KeepClientValuesAsync();
        }
        else
        {
            conflict.KeepClientValues();
        }

        await Save(context, async);
        var stored = await StoredAsync(loaded.Id);
        Assert.That((stored.Title, stored.Body, stored.Version), Is.EqualTo(("mine", "body", 3L)), "the client's view, over version 2");
        Assert.That(loaded.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task Keeping_the_clients_values_still_fails_when_a_third_writer_came_in_between([Values] bool async)
    {
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Title = "mine");
        await using var _ = context;
        var conflict = exception.Conflicts.Single();
        conflict.KeepClientValues();
        EditElsewhere(loaded.Id, "third", "third");

        var again = await ThrowsConflict(context, async);
        Assert.That((again.ExpectedVersion, again.ActualVersion), Is.EqualTo((2L, 3L)));
        Assert.That((await StoredAsync(loaded.Id)).Title, Is.EqualTo("third"));
    }

    [Test]
    public async Task Merge_keeps_each_sides_own_changes_and_asks_only_about_properties_both_changed([Values] bool async)
    {
        // This client changed the body; the other writer changed the title: no property conflicts.
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Body = "my body", otherTitle: "their title");
        await using var _ = context;
        var asked = new List<PropertyConflict>();
        var conflict = exception.Conflicts.Single();

        if (async)
        {
            await conflict.MergeAsync(c =>
            {
                asked.Add(c);
                return c.ProposedValue;
            });
        }
        else
        {
            conflict.Merge(c =>
            {
                asked.Add(c);
                return c.ProposedValue;
            });
        }

        Assert.That(asked, Is.Empty);
        await Save(context, async);
        var stored = await StoredAsync(loaded.Id);
        Assert.That((stored.Title, stored.Body, stored.Version), Is.EqualTo(("their title", "my body", 3L)));
    }

    [Test]
    public async Task Merge_calls_the_callback_for_a_property_both_changed_and_saves_its_answer([Values] bool async)
    {
        var (context, loaded, exception) = await ConflictAsync(async, a => a.Title = "mine", otherTitle: "theirs");
        await using var _ = context;
        var asked = new List<PropertyConflict>();
        var conflict = exception.Conflicts.Single();
        Func<PropertyConflict, object?> resolve = c =>
        {
            asked.Add(c);
            return $"{c.DatabaseValue} + {c.ProposedValue}";
        };

        if (async)
        {
            await conflict.MergeAsync(resolve);
        }
        else
        {
            conflict.Merge(resolve);
        }

        Assert.That(asked.Select(c => (c.Property.Name, c.OriginalValue, c.ProposedValue, c.DatabaseValue)),
            Is.EqualTo(new[] { (nameof(Article.Title), (object?)"title", (object?)"mine", (object?)"theirs") }));
        await Save(context, async);
        var stored = await StoredAsync(loaded.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("theirs + mine", 3L)));
    }

    [Test]
    public async Task A_throwing_merge_callback_leaves_the_entity_as_it_was()
    {
        var (context, loaded, exception) = await ConflictAsync(async: true, a => a.Title = "mine");
        await using var _ = context;
        var conflict = exception.Conflicts.Single();

        Assert.Throws<InvalidTimeZoneException>(() => conflict.Merge(_ => throw new InvalidTimeZoneException()));
        Assert.That((loaded.Title, loaded.Version), Is.EqualTo(("mine", 1L)));
        await ThrowsConflict(context, async: true);
    }

    [Test]
    public async Task A_deleted_row_can_be_accepted_but_not_saved_over_or_merged([Values] bool async)
    {
        var article = await Add(new Article { Title = "title" });
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        ExecuteRaw($"DELETE FROM \"Articles\" WHERE \"Id\" = {article.Id}");
        loaded.Title = "mine";
        var conflict = (await ThrowsConflict(context, async)).Conflicts.Single();
        Assert.That(conflict.WasDeleted, Is.True);

        var keep = Assert.Throws<InvalidOperationException>(() => conflict.KeepClientValues());
        Assert.That(keep!.Message, Does.Contain($"Article(Id={article.Id}) was deleted by someone else").And.Contain("KeepDatabaseValues"));
        Assert.Throws<InvalidOperationException>(() => conflict.Merge(c => c.ProposedValue));

        if (async)
        {
            await conflict.KeepDatabaseValuesAsync();
        }
        else
        {
            conflict.KeepDatabaseValues();
        }

        Assert.That(context.Entry(loaded).State, Is.EqualTo(EntityState.Detached));
        Assert.That(await Save(context, async), Is.Zero);
        Assert.That(await context.Articles.AnyAsync(x => x.Id == article.Id), Is.False, "not re-inserted");
    }

    [Test]
    public async Task A_stale_delete_can_be_forced_or_given_up_but_not_merged([Values] bool force)
    {
        var article = await Add(new Article { Title = "title" });
        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id);
        EditElsewhere(article.Id, "theirs", "body");
        context.Remove(loaded);
        var conflict = (await ThrowsConflict(context, async: true)).Conflicts.Single();

        var merge = Assert.Throws<InvalidOperationException>(() => conflict.Merge(c => c.ProposedValue));
        Assert.That(merge!.Message, Does.Contain("was being deleted by this client"));

        if (force)
        {
            await conflict.KeepClientValuesAsync();
        }
        else
        {
            await conflict.KeepDatabaseValuesAsync();
        }

        await context.SaveChangesAsync();
        Assert.That(await CreateContext().Articles.AnyAsync(x => x.Id == article.Id), Is.EqualTo(!force));
    }

    [Test]
    public async Task RetryOnConflict_reruns_the_unit_of_work_from_a_fresh_read([Values] bool async)
    {
        var article = await Add(new Article { Title = "title", Body = "" });
        await using var context = CreateContext();
        var attempts = 0;

        void UnitOfWork(Article loaded)
        {
            attempts++;
            if (attempts == 1)
            {
                EditElsewhere(article.Id, "theirs", "x"); // loses the race once
            }

            loaded.Body += "+";
        }

        if (async)
        {
            await context.RetryOnConflictAsync(async ct =>
            {
                UnitOfWork(await context.Articles.SingleAsync(x => x.Id == article.Id, ct));
                await context.SaveChangesAsync(ct);
            });
        }
        else
        {
            context.RetryOnConflict(() =>
            {
                UnitOfWork(context.Articles.Single(x => x.Id == article.Id));
                context.SaveChanges();
            });
        }

        Assert.That(attempts, Is.EqualTo(2));
        var stored = await StoredAsync(article.Id);
        Assert.That((stored.Title, stored.Body, stored.Version), Is.EqualTo(("theirs", "x+", 3L)), "the retry built on the other change");
    }

    [Test]
    public async Task RetryOnConflict_rethrows_the_last_conflict_when_attempts_run_out([Values] bool async)
    {
        var article = await Add(new Article { Title = "title" });
        await using var context = CreateContext();
        var attempts = 0;

        void UnitOfWork(Article loaded)
        {
            attempts++;
            EditElsewhere(article.Id, "theirs" + attempts, "x"); // loses every time
            loaded.Body = "mine";
        }

        var exception = async
            ? await Assert.ThrowsAsync<RecordModifiedException>(() => context.RetryOnConflictAsync(async ct =>
            {
                UnitOfWork(await context.Articles.SingleAsync(x => x.Id == article.Id, ct));
                await context.SaveChangesAsync(ct);
            }, maxAttempts: 4))
            : Assert.Throws<RecordModifiedException>(() => context.RetryOnConflict(() =>
            {
                UnitOfWork(context.Articles.Single(x => x.Id == article.Id));
                context.SaveChanges();
            }, maxAttempts: 4));

        Assert.That(attempts, Is.EqualTo(4));
        Assert.That((exception!.ExpectedVersion, exception.ActualVersion), Is.EqualTo((4L, 5L)), "the last attempt's conflict");
        Assert.That((await StoredAsync(article.Id)).Body, Is.EqualTo("x"));
    }

    [Test]
    public async Task RetryOnConflict_returns_the_result_and_does_not_retry_other_failures()
    {
        await using var context = CreateContext();
        Assert.That(await context.RetryOnConflictAsync(_ => Task.FromResult(42)), Is.EqualTo(42));
        Assert.That(context.RetryOnConflict(() => "sync"), Is.EqualTo("sync"));

        var attempts = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => context.RetryOnConflictAsync(_ =>
        {
            attempts++;
            throw new InvalidOperationException("not a conflict");
        }));
        Assert.That(attempts, Is.EqualTo(1));

        Assert.Throws<ArgumentOutOfRangeException>(() => context.RetryOnConflict(() => { }, maxAttempts: 0));
    }

    [Test]
    public async Task RetryOnConflict_honours_cancellation_between_attempts()
    {
        var article = await Add(new Article { Title = "title" });
        await using var context = CreateContext();
        using var cancellation = new CancellationTokenSource();
        var attempts = 0;

        await Assert.CatchAsync<OperationCanceledException>(() => context.RetryOnConflictAsync(async ct =>
        {
            attempts++;
            var loaded = await context.Articles.SingleAsync(x => x.Id == article.Id, ct);
            EditElsewhere(article.Id, "theirs", "x");
            loaded.Body = "mine";
            await cancellation.CancelAsync(); // cancelled after the first attempt started: no second attempt
            await context.SaveChangesAsync(CancellationToken.None);
        }, maxAttempts: 10, cancellation.Token));

        Assert.That(attempts, Is.EqualTo(1));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task RetryOnConflict_with_eight_writers_loses_no_increment(CancellationToken cancellationToken)
    {
        var counter = await Add(new Counter { Value = 0 });
        const int workers = 8;
        const int incrementsPerWorker = 25;
        var attempts = 0;

        var successes = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var done = 0;
            await using var context = CreateContext();
            for (var i = 0; i < incrementsPerWorker; i++)
            {
                await context.RetryOnConflictAsync(async ct =>
                {
                    Interlocked.Increment(ref attempts);
                    var row = await context.Counters.SingleAsync(x => x.Id == counter.Id, ct);
                    row.Value++;
                    await context.SaveChangesAsync(ct);
                }, maxAttempts: 1000, cancellationToken);
                done++;
            }

            return done;
        }, cancellationToken)));

        var stored = await CreateContext().Counters.SingleAsync(x => x.Id == counter.Id, cancellationToken);
        Assert.That(successes.Sum(), Is.EqualTo(workers * incrementsPerWorker));
        Assert.That(stored.Value, Is.EqualTo(successes.Sum()), $"lost updates: {successes.Sum() - stored.Value}");
        Assert.That(stored.Version, Is.EqualTo(successes.Sum() + 1));
        NUnit.Framework.TestContext.Out.WriteLine($"{Provider}: {successes.Sum()} increments in {attempts} attempts, lost updates: 0");
    }
}
