using Concurrency.AspNetCore;
using Concurrency.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>Pipeline entry points of Concurrency.</summary>
public static class ConcurrencyApplicationBuilderExtensions
{
    /// <summary>
    ///     Makes each request act for its user as the owner of object locks (<see cref="ObjectLockOwner" />), so the
    ///     owner of a lock may keep editing while others are refused. The owner is
    ///     <see cref="ConcurrencyHttpOptions.LockOwner" /> (the signed-in user's name by default). Add it after
    ///     authentication.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The same application, for chaining.</returns>
    public static IApplicationBuilder UseObjectLockOwner(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            var options = context.RequestServices.GetService<IOptions<ConcurrencyHttpOptions>>()?.Value ?? new ConcurrencyHttpOptions();
            using (ObjectLockOwner.Use(options.LockOwner(context)))
            {
                await next(context).ConfigureAwait(false);
            }
        });
    }
}
