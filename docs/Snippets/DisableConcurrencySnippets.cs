using Concurrency.EntityFrameworkCore;

namespace Concurrency.Snippets;

public static class DisableConcurrencySnippets
{
    public static async Task BulkAsync(BlogContext db)
    {
        #region disable-concurrency
        using (new DisableConcurrency())                       // every entity type
        {
            foreach (var article in db.Articles) article.Title = article.Title.Trim();
            await db.SaveChangesAsync();
        }

        using (new DisableConcurrency(typeof(Article)))        // only these types (and types derived from them)
        {
            await db.SaveChangesAsync();                       // stale Article saves win; other types stay checked
        }
        #endregion
    }
}
