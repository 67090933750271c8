using Concurrency.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>django-object-lock's LockableUpdateModelMixin and LockableDestroyModelMixin as an endpoint filter.</summary>
public static class ConcurrencyLockPolicyEndpointExtensions
{
    /// <summary>
    ///     Before a PUT, PATCH or DELETE handler runs, loads the entity named by the route's <c>{id}</c> and answers 409
    ///     problem+json when it counts as locked: by <paramref name="isLocked" /> (the API's own rule, for example
    ///     <c>a =&gt; a.IsPublished</c>), or else by the entity's own lock as loaded, unless the current lock owner holds it.
    ///     Other methods, unknown ids and ids that are not keys go to the handler unchanged.
    /// </summary>
    /// <remarks>
    ///     An early answer on the loaded copy, not a guarantee: a lock taken between this check and the handler's save is
    ///     enforced by SaveChanges for the entity's own (and derived) locks, and a rule of the API's own is re-checked only
    ///     if the handler checks it. With a version field, a change made in between makes the save a 409 conflict. The
    ///     loaded entity stays tracked by the request's context, so the handler's own load returns it.
    /// </remarks>
    /// <typeparam name="TContext">The DbContext, resolved from the request's services.</typeparam>
    /// <typeparam name="TEntity">The entity type the route's id names.</typeparam>
    /// <typeparam name="TKey">The type of its single-column key, parsed from the route like the lock endpoints do.</typeparam>
    /// <param name="builder">The endpoint (or group) builder.</param>
    /// <param name="isLocked">The API's own rule, or <see langword="null" /> for the entity's own lock. Defaults to <see langword="null" />.</param>
    /// <param name="routeValue">The route value holding the key. Defaults to <c>id</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static RouteHandlerBuilder RefuseWhenLocked<TContext, TEntity, TKey>(
        this RouteHandlerBuilder builder,
        Func<TEntity, bool>? isLocked = null,
        string routeValue = "id")
        where TContext : DbContext
        where TEntity : class
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(routeValue);
        if (!RouteKeyParser.CanParse<TKey>())
        {
            throw new InvalidOperationException(
                $"RefuseWhenLocked cannot read a key of type '{typeof(TKey).Name}' from the route: use a key type with a static "
                + "TryParse (IParsable<T>, such as int, long or Guid), an enum, or string.");
        }

        return builder.AddEndpointFilter(async (invocation, next) =>
        {
            var http = invocation.HttpContext;
            var method = http.Request.Method;
            if (!(HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method))
                || http.GetRouteValue(routeValue)?.ToString() is not { } raw
                || !RouteKeyParser.TryParse<TKey>(raw, out var key))
            {
                return await next(invocation).ConfigureAwait(false);
            }

            var db = http.RequestServices.GetRequiredService<TContext>();
            var entity = await db.Set<TEntity>().FindAsync([key], http.RequestAborted).ConfigureAwait(false);
            if (entity is not null && (isLocked?.Invoke(entity) ?? db.Entry(entity).IsLockedAgainstCurrentOwner()))
            {
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status409Conflict,
                    title: "The record is locked",
                    detail: $"This {ClientText.Name(typeof(TEntity))} is locked, so it cannot be changed now. Nothing of your change was saved.");
            }

            return await next(invocation).ConfigureAwait(false);
        });
    }
}
