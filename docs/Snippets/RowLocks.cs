using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets.RowLocks;

public class Item
{
    public int Id { get; set; }
    public int Stock { get; set; }
    [VersionField] public long Version { get; set; }
}

public class QueuedJob
{
    public int Id { get; set; }
    public string Status { get; set; } = "queued";
}

public class Taxonomy
{
    public int Id { get; set; }
    public string? RemoteId { get; set; }
    public string Slug { get; set; } = "";
    public string Name { get; set; } = "";
}

public record RemoteTaxonomy(string Id, string Slug, string Name);

public class ShopContext(string connectionString) : DbContext
{
    public DbSet<Taxonomy> Taxonomies => Set<Taxonomy>();
    public DbSet<Item> Items => Set<Item>();
    public DbSet<QueuedJob> Jobs => Set<QueuedJob>();

    #region row-locks-setup
    protected override void OnConfiguring(DbContextOptionsBuilder options)
        => options.UseNpgsql(connectionString)
            .UseConcurrency()
            .UseRowLocks();          // Concurrency.EntityFrameworkCore.PostgreSQL: renders FOR UPDATE and its siblings
    #endregion
}

public static class RowLocks
{
    #region row-locks-compiled
    private static readonly Func<ShopContext, int, Task<Item>> ItemForUpdate = EF.CompileAsyncQuery(
        (ShopContext db, int id) => db.Items.Where(i => i.Id == id).ForUpdate().Single());
    #endregion

    public static async Task SellCompiledAsync(ShopContext db, int id)
    {
        await using var transaction = await db.Database.BeginTransactionAsync();
        var item = await ItemForUpdate(db, id);
        item.Stock--;
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
    }

    public static async Task SellAsync(ShopContext db, int id)
    {
        #region row-locks-use
        await using var transaction = await db.Database.BeginTransactionAsync();
        var item = await db.Items.Where(i => i.Id == id).ForUpdate().SingleAsync();   // locked until commit
        item.Stock--;
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        #endregion
    }

    public static async Task WorkAsync(ShopContext db)
    {
        #region row-locks-queue
        db.Database.AutoSavepointsEnabled = false;     // see below: two round trips fewer per SaveChanges in a transaction
        await using var transaction = await db.Database.BeginTransactionAsync();
        var batch = await db.Jobs
            .Where(j => j.Status == "queued")
            .OrderBy(j => j.Id)
            .ForUpdate(RowLockWait.SkipLocked)     // rows other workers hold are skipped, not waited for
            .Take(10)
            .ToListAsync();
        foreach (var job in batch)
        {
            job.Status = "done";
        }

        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        #endregion
    }

    public static async Task QueueByIdsAsync(ShopContext db)
    {
        #region row-locks-queue-ids
        await using var transaction = await db.Database.BeginTransactionAsync();
        var ids = await db.Jobs
            .Where(j => j.Status == "queued")
            .OrderBy(j => j.Id)
            .ForUpdate(RowLockWait.SkipLocked)
            .Take(10)
            .Select(j => j.Id)
            .ToListAsync();
        await db.Jobs
            .Where(j => ids.Contains(j.Id))           // PostgreSQL: WHERE "Id" = ANY (@ids)
            .ExecuteUpdateAsync(s => s.SetProperty(j => j.Status, "done"));
        await transaction.CommitAsync();
        #endregion
    }

    public static async Task TimeoutAsync(ShopContext db, int id)
    {
        #region row-locks-timeout
        await using var transaction = await db.Database.BeginTransactionAsync();
        try
        {
            var item = await db.Items.Where(i => i.Id == id).ForUpdate(timeout: TimeSpan.FromSeconds(2)).SingleAsync();
            item.Stock--;
            await db.SaveChangesAsync();
            await transaction.CommitAsync();
        }
        catch (RowLockNotAvailableException)
        {
            await transaction.RollbackAsync();     // PostgreSQL aborted the transaction with the failed statement
            throw;                                 // or: report "busy, try again"
        }
        #endregion
    }

    public static Task RetryAsync(ShopContext db, int id)
    {
        #region row-locks-retry
        return db.RetryOnConflictAsync(async ct =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var item = await db.Items.Where(i => i.Id == id).ForUpdate(RowLockWait.NoWait).SingleAsync(ct);
            item.Stock--;
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        });
        #endregion
    }

    public static async Task ImportAsync(ShopContext db, RemoteTaxonomy remote)
    {
        #region row-locks-update-or-create
        var (taxonomy, created) = await db.Taxonomies.UpdateOrCreateAsync(
            [t => t.RemoteId == remote.Id, t => t.Slug == remote.Slug],     // tried in order, under a row lock
            t =>
            {
                t.RemoteId = remote.Id;
                t.Name = remote.Name;
            },
            () => new Taxonomy { RemoteId = remote.Id, Slug = remote.Slug, Name = remote.Name });
        #endregion
    }
}
