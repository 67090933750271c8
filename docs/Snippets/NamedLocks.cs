using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets.NamedLocks;

public class Article
{
    public int Id { get; set; }
    public string Slug { get; set; } = "";
    public string Body { get; set; } = "";
}

public class Report
{
    public int Id { get; set; }
    public string Content { get; set; } = "";
    public long LastToken { get; set; }
}

public class BlogContext(DbContextOptions<BlogContext> options) : DbContext(options)
{
    public DbSet<Article> Articles => Set<Article>();
    public DbSet<Report> Reports => Set<Report>();
}

public static class NamedLocks
{
    public static async Task NightlyAsync(BlogContext db, CancellationToken cancellationToken)
    {
        #region named-locks-acquire
        await using (var handle = await db.Database.AcquireLockAsync("nightly-import", timeout: TimeSpan.FromSeconds(30)))
        {
            // only one process on this database runs this at a time
        }

        await using var maybe = await db.Database.TryAcquireLockAsync("nightly-import");   // null: someone else runs it
        if (maybe is null)
        {
            return;
        }
        #endregion
    }

    public static async Task<int> WithLockAsync(BlogContext db, CancellationToken cancellationToken)
    {
        #region named-locks-with
        var imported = await db.Database.WithLockAsync("nightly-import", async ct =>
        {
            // ct is cancelled when cancellationToken is, and when the lock is lost (its connection was terminated)
            return await db.Articles.CountAsync(ct);
        }, timeout: TimeSpan.FromMinutes(1), cancellationToken);
        #endregion
        return imported;
    }

    public static async Task EntityAsync(BlogContext db, int id)
    {
        #region named-locks-entity
        var article = await db.Articles.SingleAsync(a => a.Id == id);
        await using (await db.AcquireLockAsync(article, timeout: TimeSpan.FromSeconds(10)))   // "entity:...Article(Id=5)"
        {
            // article was reloaded once the lock was held: these are the values the previous holder left
            article.Body += "\nEdited.";
            await db.SaveChangesAsync();
        }

        await using (await db.AcquireLockAsync(article, by: a => a.Slug, timeout: TimeSpan.FromSeconds(10), reload: false))
        {
            // locked by slug: "entity:...Article(Slug=\"hello-world\")"
        }
        #endregion
    }

    public static async Task TransactionAsync(BlogContext db)
    {
        #region named-locks-transaction
        await using var transaction = await db.Database.BeginTransactionAsync();
        await db.Database.AcquireTransactionLockAsync("invoice-numbers", timeout: TimeSpan.FromSeconds(5));
        // ... read the last number, insert the next one ...
        await transaction.CommitAsync();                                  // the lock is released here (or at rollback)
        #endregion
    }

    public static async Task FencedAsync(BlogContext db, string content)
    {
        #region named-locks-fencing
        await using var handle = await db.Database.AcquireLockAsync("report-1");
        var written = await db.Reports
            .Where(r => r.Id == 1 && r.LastToken < handle.FencingToken)      // the fence
            .ExecuteUpdateAsync(s => s
                .SetProperty(r => r.Content, content)
                .SetProperty(r => r.LastToken, handle.FencingToken));
        if (written == 0)
        {
            // a later holder already wrote: this holder lost its lock while it was paused; drop the result
        }
        #endregion
    }

    public static async Task TimeoutAsync(BlogContext db)
    {
        #region named-locks-timeout
        try
        {
            await using var handle = await db.Database.AcquireLockAsync("nightly-import", TimeSpan.FromSeconds(5));
        }
        catch (LockTimeoutException e)           // derives from TimeoutException
        {
            Console.WriteLine(e.Message);        // "The named lock 'nightly-import' could not be acquired within 00:00:05: ..."
        }
        #endregion
    }
}
