using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     A save inside the application's transaction that is then rolled back must leave the entity expecting the version
///     the row has again: no false conflict on the retry, and no silent overwrite when another writer reached the
///     version the rolled-back save had written.
/// </summary>
[Category("Reliability")]
public sealed class TransactionRollbackTests(Provider provider) : DatabaseTestBase(provider)
{
    public enum Ending
    {
        Rollback,
        DisposeWithoutCommit,
    }

    /// <summary>Loads the article, saves a change of it in a transaction, and ends that transaction without a commit.</summary>
    private static async Task<Article> SaveInATransactionThatEnds(VersionedContext context, int id, Ending ending, bool async)
    {
        var loaded = await context.Articles.SingleAsync(a => a.Id == id);
        var transaction = async ? await context.Database.BeginTransactionAsync() : context.Database.BeginTransaction();
        loaded.Title = "rolled back";
        await Save(context, async);
        await End(transaction, ending, async);
        return loaded;
    }

    private static async Task End(Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction transaction, Ending ending, bool async)
    {
        if (ending == Ending.Rollback)
        {
            if (async)
            {
                await transaction.RollbackAsync();
            }
            else
            {
                transaction.Rollback();
            }
        }

        if (async)
        {
            await transaction.DisposeAsync();
        }
        else
        {
            transaction.Dispose();
        }
    }

    [Test]
    public async Task After_a_rollback_a_writer_who_reached_the_same_version_is_not_overwritten([Values] bool async, [Values] Ending ending)
    {
        var article = await Add(new Article { Title = "v1" });

        await using var context = CreateContext();
        var loaded = await SaveInATransactionThatEnds(context, article.Id, ending, async);

        await using (var other = CreateContext())
        {
            (await other.Articles.SingleAsync(a => a.Id == article.Id)).Title = "v2 by someone else";
            await other.SaveChangesAsync(); // the row is at version 2 again, with other data
        }

        loaded.Title = "stale retry";
        var conflict = await ThrowsConflict(context, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        Assert.That(conflict.ActualVersion, Is.EqualTo(2));

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(a => a.Id == article.Id)).Title, Is.EqualTo("v2 by someone else"));
    }

    [Test]
    public async Task After_a_rollback_the_next_save_has_no_false_conflict([Values] bool async, [Values] Ending ending)
    {
        var article = await Add(new Article { Title = "v1" });

        await using var context = CreateContext();
        var loaded = await SaveInATransactionThatEnds(context, article.Id, ending, async);
        if (ending == Ending.Rollback)
        {
            Assert.That(loaded.Version, Is.EqualTo(1), "the row has version 1 again, so must the entity");
        }

        loaded.Title = "saved for real";
        await Save(context, async);

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("saved for real"));
        Assert.That(stored.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task EFs_retry_pattern_with_acceptAllChangesOnSuccess_false_saves_after_a_rollback([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });

        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id);
        loaded.Title = "retried";

        await using (var first = await context.Database.BeginTransactionAsync())
        {
            _ = async ? await context.SaveChangesAsync(acceptAllChangesOnSuccess: false) : context.SaveChanges(acceptAllChangesOnSuccess: false);
            await first.RollbackAsync(); // e.g. a later step of the unit of work failed
        }

        await using (var second = await context.Database.BeginTransactionAsync())
        {
            _ = async ? await context.SaveChangesAsync(acceptAllChangesOnSuccess: false) : context.SaveChanges(acceptAllChangesOnSuccess: false);
            await second.CommitAsync();
        }

        context.ChangeTracker.AcceptAllChanges();
        Assert.That(loaded.Version, Is.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("retried"));
        Assert.That(stored.Version, Is.EqualTo(2));

        loaded.Title = "and again";
        await Save(context, async);
        Assert.That(loaded.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task A_committed_transaction_keeps_the_new_version([Values] bool async)
    {
        var article = await Add(new Article { Title = "v1" });

        await using var context = CreateContext();
        var loaded = await context.Articles.SingleAsync(a => a.Id == article.Id);
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            loaded.Title = "committed";
            await Save(context, async);
            await transaction.CommitAsync();
        }

        loaded.Title = "next";
        await Save(context, async);
        Assert.That(loaded.Version, Is.EqualTo(3));
    }
}
