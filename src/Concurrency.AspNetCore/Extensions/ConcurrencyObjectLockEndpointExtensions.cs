using System.Globalization;
using Concurrency.AspNetCore;
using Concurrency.AspNetCore.Internal;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>The django-object-lock actions as HTTP endpoints.</summary>
public static class ConcurrencyObjectLockEndpointExtensions
{
    /// <summary>
    ///     Adds <c>PUT|PATCH {id}/lock</c> and <c>PUT|PATCH {id}/unlock</c> for an entity set to a route group: 200 with
    ///     the entity (and its new <c>ETag</c> when versioned), 409 problem+json when it already is in that state or is
    ///     locked by someone else, 404 for an unknown id, 403 for a forced unlock without the right policy.
    /// </summary>
    /// <remarks>
    ///     The lock's owner is <see cref="ConcurrencyHttpOptions.LockOwner" /> (the signed-in user by default), for entities
    ///     with an owner property. <c>{id}/unlock?force=true</c> breaks someone else's lock when the user satisfies
    ///     <see cref="ObjectLockEndpointOptions{TEntity}.ForceUnlockPolicy" />. Locking is atomic: of two clients locking at
    ///     once exactly one gets 200.
    /// </remarks>
    /// <typeparam name="TContext">The DbContext, resolved from the request's services.</typeparam>
    /// <typeparam name="TEntity">The lockable entity type.</typeparam>
    /// <typeparam name="TKey">The type of its (single-column) primary key, bound from the route.</typeparam>
    /// <param name="endpoints">The group, for example <c>app.MapGroup("/api/articles")</c>.</param>
    /// <param name="configure">Sets <see cref="ObjectLockEndpointOptions{TEntity}" />.</param>
    /// <returns>The builder of the two endpoints, for more conventions such as <c>RequireAuthorization</c>.</returns>
    public static RouteGroupBuilder MapObjectLockEndpoints<TContext, TEntity, TKey>(
        this IEndpointRouteBuilder endpoints,
        Action<ObjectLockEndpointOptions<TEntity>>? configure = null)
        where TContext : DbContext
        where TEntity : class
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var options = new ObjectLockEndpointOptions<TEntity>();
        configure?.Invoke(options);

        var group = endpoints.MapGroup(string.Empty);
        string[] methods = [HttpMethods.Put, HttpMethods.Patch];
        group.MapMethods("/{id}/lock", methods, (TKey id, TContext db, HttpContext http, CancellationToken ct)
            => HandleAsync(id, db, http, options, lockIt: true, ct));
        group.MapMethods("/{id}/unlock", methods, (TKey id, TContext db, HttpContext http, CancellationToken ct)
            => HandleAsync(id, db, http, options, lockIt: false, ct));
        if (options.AuthorizationPolicy is { } policy)
        {
            group.RequireAuthorization(policy);
        }

        return group;
    }

    private static async Task<IResult> HandleAsync<TContext, TEntity, TKey>(
        TKey id,
        TContext db,
        HttpContext http,
        ObjectLockEndpointOptions<TEntity> options,
        bool lockIt,
        CancellationToken cancellationToken)
        where TContext : DbContext
        where TEntity : class
        where TKey : notnull
    {
        var httpOptions = http.RequestServices.GetService<IOptions<ConcurrencyHttpOptions>>()?.Value ?? new ConcurrencyHttpOptions();
        var entity = await db.Set<TEntity>().FindAsync([id], cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Not Found",
                detail: string.Create(CultureInfo.InvariantCulture, $"{typeof(TEntity).Name} {id} does not exist."));
        }

        var force = !lockIt && bool.TryParse(http.Request.Query["force"], out var forced) && forced;
        if (force && !await MayForceAsync(http, options).ConfigureAwait(false))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden",
                detail: "Breaking someone else's lock needs a permission this user does not have.");
        }

        var lease = options.Lease;
        if (lockIt && int.TryParse(http.Request.Query["leaseSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
        {
            var asked = TimeSpan.FromSeconds(seconds);
            lease = lease is { } limit && limit < asked ? limit : asked;
        }

        try
        {
            using (ObjectLockOwner.Use(httpOptions.LockOwner(http)))
            {
                if (lockIt)
                {
                    await db.LockAsync(entity, lease, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await db.UnlockAsync(entity, force, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (ObjectLockException exception)
        {
            return TypedResults.Problem(ConcurrencyProblems.Create(exception, httpOptions)!);
        }

        var entry = db.Entry(entity);
        if (entry.HasVersionField())
        {
            http.SetETag(entry);
        }

        return TypedResults.Ok(options.Response?.Invoke(entity) ?? entity);
    }

    private static async Task<bool> MayForceAsync<TEntity>(HttpContext http, ObjectLockEndpointOptions<TEntity> options)
        where TEntity : class
    {
        if (options.ForceUnlockPolicy is not { } policy)
        {
            return false;
        }

        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        return (await authorization.AuthorizeAsync(http.User, policy).ConfigureAwait(false)).Succeeded;
    }
}
