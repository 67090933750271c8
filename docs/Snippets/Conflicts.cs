using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets.Conflicts;

/// <summary>docs/conflicts.md: an article whose tags a merge joins.</summary>
public class Article
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    public string Tags { get; set; } = "";
    [VersionField] public long Version { get; set; }
}

public static class Conflicts
{
    public static async Task RetryAsync(ShopContext context, int id, int quantity)
    {
        #region conflicts-retry
        await context.RetryOnConflictAsync(async ct =>
        {
            var product = await context.Products.SingleAsync(p => p.Id == id, ct);   // load inside: every attempt starts fresh
            product.Stock -= quantity;
            await context.SaveChangesAsync(ct);
        }, maxAttempts: 3);
        #endregion
    }

    public static async Task MergeAsync(DbContext context)
    {
        try
        {
            await context.SaveChangesAsync();
        }
        #region conflicts-merge
        catch (RecordModifiedException e)
        {
            foreach (var conflict in e.Conflicts)
            {
                // 1. Give up this change: the entity takes the database's values (or is detached if the row was deleted).
                await conflict.KeepDatabaseValuesAsync();

                // 2. Or overwrite: the next save writes everything this client sees, over the row's current version.
                await conflict.KeepClientValuesAsync();

                // 3. Or merge property by property. A property only one side changed keeps that side's value;
                //    the callback decides only for properties both sides changed to different values.
                await conflict.MergeAsync(p => p.Property.Name == nameof(Article.Tags)
                    ? $"{p.DatabaseValue}, {p.ProposedValue}"
                    : p.DatabaseValue);
            }

            await context.SaveChangesAsync();
        }
        #endregion
    }
}
