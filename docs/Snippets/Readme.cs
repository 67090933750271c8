using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.Snippets;

/// <summary>The C# blocks of README.md after its model (which is in ReadmeSetup.cs).</summary>
public static class Readme
{
    public static async Task SaveAsync(BlogContext context)
    {
        #region readme-catch
        try
        {
            await context.SaveChangesAsync();
        }
        catch (RecordModifiedException e)   // derives from DbUpdateConcurrencyException
        {
            Console.WriteLine(e.Message);   // "Article(Id=5) was modified by someone else: expected version 3, found 4. ..."
            // e.EntityType, e.Key, e.ExpectedVersion, e.ActualVersion, e.WasDeleted, e.Conflicts
        }
        #endregion
    }

    public static void Web(WebApplicationBuilder builder, WebApplication app)
    {
        #region readme-web
        builder.Services.AddConcurrencyProblemDetails();   // RecordModifiedException -> 409 problem+json, never a 500
        app.UseExceptionHandler();
        app.MapGroup("/api/articles").MapObjectLockEndpoints<BlogContext, Article, int>();
        #endregion
    }

    public static async Task RetryAsync(ShopContext context, int id)
    {
        #region readme-retry
        await context.RetryOnConflictAsync(async ct =>     // re-runs load + change + save on a conflict, with jittered back-off
        {
            var counter = await context.Counters.SingleAsync(c => c.Id == id, ct);
            counter.Value++;
            await context.SaveChangesAsync(ct);
        });
        #endregion
    }
}
