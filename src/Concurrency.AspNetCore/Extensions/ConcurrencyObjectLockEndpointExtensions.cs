using System.Globalization;
using Concurrency.AspNetCore;
using Concurrency.AspNetCore.Internal;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>The django-object-lock actions as HTTP endpoints.</summary>
public static class ConcurrencyObjectLockEndpointExtensions
{
    /// <summary>
    ///     Adds <c>PUT|PATCH {id}/lock</c> and <c>PUT|PATCH {id}/unlock</c> for an entity set to a route group: 200 with
    ///     the entity (and its new <c>ETag</c> when versioned), 409 problem+json when it already is in that state or is
    ///     locked by someone else, 404 for an unknown id, 403 for a forced unlock without the right policy, and 400
    ///     problem+json naming the parameter (in <c>errors</c>) for an <c>{id}</c> that is not a key, a <c>leaseSeconds</c>
    ///     that is not a whole number from 1 to 2147483647 or is given for a type without a lease property, a <c>force</c>
    ///     that is not <c>true</c> or <c>false</c>, or a parameter of the other endpoint. Nothing is written on a 400.
    /// </summary>
    /// <remarks>
    ///     The lock's owner is <see cref="ConcurrencyHttpOptions.LockOwner" /> (the signed-in user by default), for entities
    ///     with an owner property. <c>{id}/unlock?force=true</c> breaks someone else's lock when the user satisfies
    ///     <see cref="ObjectLockEndpointOptions{TEntity}.ForceUnlockPolicy" />. Locking is atomic: of two clients locking at
    ///     once exactly one gets 200.
    /// </remarks>
    /// <typeparam name="TContext">The DbContext, resolved from the request's services.</typeparam>
    /// <typeparam name="TEntity">The lockable entity type.</typeparam>
    /// <typeparam name="TKey">
    ///     The type of its (single-column) primary key, parsed from the route with its static <c>TryParse</c> and the
    ///     invariant culture (a type implementing <see cref="IParsable{TSelf}" />, an enum, or <see cref="string" />).
    /// </typeparam>
    /// <param name="endpoints">The group, for example <c>app.MapGroup("/api/articles")</c>.</param>
    /// <param name="configure">Sets <see cref="ObjectLockEndpointOptions{TEntity}" />.</param>
    /// <returns>The builder of the two endpoints, for more conventions such as <c>RequireAuthorization</c>.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TKey" /> cannot be parsed from a route value.</exception>
    public static RouteGroupBuilder MapObjectLockEndpoints<TContext, TEntity, TKey>(
        this IEndpointRouteBuilder endpoints,
        Action<ObjectLockEndpointOptions<TEntity>>? configure = null)
        where TContext : DbContext
        where TEntity : class
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (!RouteKeyParser.CanParse<TKey>())
        {
            throw new InvalidOperationException(
                $"MapObjectLockEndpoints cannot read a key of type '{typeof(TKey).Name}' from the route: use a key type with a static "
                + "TryParse (IParsable<T>, such as int, long or Guid), an enum, or string.");
        }

        var options = new ObjectLockEndpointOptions<TEntity>();
        configure?.Invoke(options);
        RequireLockPolicy<TContext, TEntity>(endpoints, options);

        // The id is bound as text and parsed by the endpoint, so that an id that is not a key answers a 400 naming it.
        var group = endpoints.MapGroup(string.Empty);
        string[] methods = [HttpMethods.Put, HttpMethods.Patch];
        group.MapMethods("/{id}/lock", methods, (string id, TContext db, HttpContext http, CancellationToken ct)
            => HandleAsync<TContext, TEntity, TKey>(id, db, http, options, lockIt: true, ct));
        group.MapMethods("/{id}/unlock", methods, (string id, TContext db, HttpContext http, CancellationToken ct)
            => HandleAsync<TContext, TEntity, TKey>(id, db, http, options, lockIt: false, ct));
        if (options.AuthorizationPolicy is { } policy)
        {
            group.RequireAuthorization(policy);
        }

        return group;
    }

    private static async Task<IResult> HandleAsync<TContext, TEntity, TKey>(
        string id,
        TContext db,
        HttpContext http,
        ObjectLockEndpointOptions<TEntity> options,
        bool lockIt,
        CancellationToken cancellationToken)
        where TContext : DbContext
        where TEntity : class
        where TKey : notnull
    {
        if (!ObjectLockRequest.TryRead<TKey>(id, http.Request.Query, lockIt, typeof(TEntity), out var request, out var invalid))
        {
            return invalid;
        }

        var httpOptions = http.RequestServices.GetService<IOptions<ConcurrencyHttpOptions>>()?.Value ?? new ConcurrencyHttpOptions();
        var entity = await db.Set<TEntity>().FindAsync([request.Key], cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Not Found",
                detail: string.Create(CultureInfo.InvariantCulture, $"{typeof(TEntity).Name} {request.Key} does not exist."));
        }

        if (options.IsLocked is { } isLocked)
        {
            return await ApplyPolicyAsync(db, http, options, entity, isLocked(entity), lockIt, request.LeaseSeconds is not null || request.Force, cancellationToken)
                .ConfigureAwait(false);
        }

        if (request.Force && !await MayForceAsync(http, options).ConfigureAwait(false))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden",
                detail: "Breaking someone else's lock needs a permission this user does not have.");
        }

        var lease = options.Lease;
        if (request.LeaseSeconds is { } seconds)
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
                    await db.UnlockAsync(entity, request.Force, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (ObjectLockException exception)
        {
            var problem = ConcurrencyProblems.Create(exception, httpOptions)!;
            ConcurrencyLog.ProblemAnswered(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(ConcurrencyLog.Category), problem.Status!.Value, exception);
            return TypedResults.Problem(problem);
        }
        catch (ArgumentException exception) when (exception.ParamName == "lease")
        {
            // The entity type has no lease property (checked by LockAsync before anything is written): the client's
            // lease is a bad request; the endpoint's own default lease is a mistake in the application.
            return request.LeaseSeconds is not null
                ? ObjectLockRequest.LeaseNotSupported(typeof(TEntity))
                : throw new InvalidOperationException(
                    $"MapObjectLockEndpoints for '{typeof(TEntity).Name}' sets a Lease, but the entity has no lease property: "
                    + "remove o.Lease, or give the entity one (ILeasedLockable, or lockExpiresAt in HasObjectLock).",
                    exception);
        }

        var entry = db.Entry(entity);
        if (entry.HasVersionField())
        {
            http.SetETag(entry);
        }

        return TypedResults.Ok(options.Response?.Invoke(entity) ?? entity);
    }

    /// <summary>
    ///     The API's own policy (<see cref="ObjectLockEndpointOptions{TEntity}.IsLocked" />/<see cref="ObjectLockEndpointOptions{TEntity}.SetLocked" />):
    ///     decided on the loaded entity and written with SaveChanges, so a version field makes a concurrent change a 409
    ///     (through the exception handler) instead of a lost update.
    /// </summary>
    private static async Task<IResult> ApplyPolicyAsync<TContext, TEntity>(
        TContext db,
        HttpContext http,
        ObjectLockEndpointOptions<TEntity> options,
        TEntity entity,
        bool locked,
        bool lockIt,
        bool askedForLeaseOrForce,
        CancellationToken cancellationToken)
        where TContext : DbContext
        where TEntity : class
    {
        var name = ClientText.Name(typeof(TEntity));
        if (askedForLeaseOrForce)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "A request parameter is not valid",
                detail: $"This {name} is locked and unlocked by the API's own rule: leases and forced unlocks do not apply.");
        }

        if (locked == lockIt)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: locked ? "The record is already locked" : "The record is not locked",
                detail: locked ? $"This {name} is already locked." : $"This {name} is not locked.");
        }

        options.SetLocked!(entity, lockIt);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        var entry = db.Entry(entity);
        if (entry.HasVersionField())
        {
            http.SetETag(entry);
        }

        return TypedResults.Ok(options.Response?.Invoke(entity) ?? entity);
    }

    /// <summary>
    ///     Without a policy of its own, the API locks the entity's own lock columns: fail at startup, naming both ways,
    ///     when the entity type has none (django-object-lock's NotImplementedError, but before the first request).
    /// </summary>
    private static void RequireLockPolicy<TContext, TEntity>(IEndpointRouteBuilder endpoints, ObjectLockEndpointOptions<TEntity> options)
        where TContext : DbContext
        where TEntity : class
    {
        if ((options.IsLocked is null) != (options.SetLocked is null))
        {
            throw new InvalidOperationException(
                $"MapObjectLockEndpoints for '{typeof(TEntity).Name}' sets only one of IsLocked and SetLocked. An API lock policy"
                + " needs both: o.IsLocked = e => ...; o.SetLocked = (e, locked) => ....");
        }

        if (options.IsLocked is not null)
        {
            return;
        }

        using var scope = endpoints.ServiceProvider.CreateScope();
        if (scope.ServiceProvider.GetService<TContext>() is not { } db)
        {
            return; // the context is not in the container: checked when a request resolves it
        }

        var entityType = db.Model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException($"'{typeof(TEntity).Name}' is not an entity type of '{typeof(TContext).Name}'.");
        if (!entityType.IsLockable())
        {
            throw new InvalidOperationException(
                $"MapObjectLockEndpoints for '{typeof(TEntity).Name}': the entity has no object lock, and no lock policy was given."
                + $" Either make it lockable (implement ILockable, or call HasObjectLock in {typeof(TContext).Name}.OnModelCreating),"
                + " or give the API its own rule: o.IsLocked = e => ...; o.SetLocked = (e, locked) => ....");
        }
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
