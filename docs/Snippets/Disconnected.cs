using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets;

public static class Disconnected
{
    public static async Task TrapAsync(BlogContext db, int id, ArticleDto dto)
    {
        #region disconnected-trap
        var article = await db.Articles.SingleAsync(a => a.Id == id);   // loads version 5
        article.Title = dto.Title;
        article.Version = dto.Version;                   // the client read version 4
        await db.SaveChangesAsync();                     // EF checks WHERE "Version" = 5: passes, overwrites someone's change
        #endregion
    }

    public static async Task ExpectVersionAsync(BlogContext db, int id, ArticleDto dto)
    {
        #region disconnected-expect-version
        var article = await db.Articles.SingleAsync(a => a.Id == id);
        db.Entry(article).ExpectVersion(dto.Version);    // WHERE "Version" = 4
        article.Title = dto.Title;
        await db.SaveChangesAsync();                     // RecordModifiedException: expected version 4, found 5
        #endregion
    }
}
