using Concurrency.AspNetCore;
using Concurrency.AspNetCore.Internal;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>django-cache-lock's <c>@lock("name")</c> for minimal API endpoints: one request at a time per lock name.</summary>
public static class ConcurrencyNamedLockEndpointExtensions
{
    /// <summary>
    ///     Runs the endpoint's handler under a named lock (see <c>TryAcquireLockAsync</c>) whose name is built from the route
    ///     values, such as <c>"import:{id}"</c>: requests for the same name run one at a time, across every app server
    ///     sharing the database. A request that cannot have the lock within <paramref name="timeout" /> is answered with
    ///     problem+json (409 Conflict, or 423 Locked: <see cref="ConcurrencyHttpOptions.NamedLockBusyStatusCode" />) and its
    ///     handler does not run. The handler's result runs under the lock too: a returned <see cref="IResult" /> is executed
    ///     and a returned object (for example an <see cref="IAsyncEnumerable{T}" />) is written as JSON before the release
    ///     (outer filters then see an empty result). The lock is released after that, or when the handler throws.
    /// </summary>
    /// <remarks>
    ///     The handler finds its lock with <c>HttpContext.GetNamedLock()</c> (for the fencing token). When the lock is lost
    ///     while the handler runs (its database connection ended), the request's cancellation token
    ///     (<see cref="HttpContext.RequestAborted" />, and a <see cref="CancellationToken" /> parameter of the handler) is
    ///     cancelled, so the handler's database work stops. A placeholder that names no parameter of the endpoint's route
    ///     fails at startup.
    /// </remarks>
    /// <typeparam name="TContext">The DbContext, resolved from the request's services, whose database holds the lock.</typeparam>
    /// <param name="builder">The endpoint builder.</param>
    /// <param name="name">
    ///     The lock name; <c>{value}</c> is replaced by the route value of that name, <c>{{</c> and <c>}}</c> stand for braces.
    /// </param>
    /// <param name="timeout">How long a request waits for the lock before it is answered as busy; <see cref="TimeSpan.Zero" /> does not wait.</param>
    /// <returns>The same builder, for chaining.</returns>
    /// <exception cref="ArgumentException"><paramref name="name" /> is empty or has an unmatched brace.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout" /> is negative.</exception>
    public static RouteHandlerBuilder RequireNamedLock<TContext>(this RouteHandlerBuilder builder, string name, TimeSpan timeout)
        where TContext : DbContext
        => Apply<TContext, RouteHandlerBuilder>(builder, name, timeout);

    /// <summary>
    ///     Runs the endpoint's handler under a named lock built from the route values, without waiting: a request whose lock
    ///     another request holds is answered as busy at once. See
    ///     <see cref="RequireNamedLock{TContext}(RouteHandlerBuilder, string, TimeSpan)" />.
    /// </summary>
    /// <typeparam name="TContext">The DbContext, resolved from the request's services, whose database holds the lock.</typeparam>
    /// <param name="builder">The endpoint builder.</param>
    /// <param name="name">The lock name; <c>{value}</c> is replaced by the route value of that name.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static RouteHandlerBuilder RequireNamedLock<TContext>(this RouteHandlerBuilder builder, string name)
        where TContext : DbContext
        => Apply<TContext, RouteHandlerBuilder>(builder, name, TimeSpan.Zero);

    /// <summary>Runs every endpoint of the group under a named lock built from the route values; see the endpoint overload.</summary>
    /// <inheritdoc cref="RequireNamedLock{TContext}(RouteHandlerBuilder, string, TimeSpan)" />
    public static RouteGroupBuilder RequireNamedLock<TContext>(this RouteGroupBuilder builder, string name, TimeSpan timeout)
        where TContext : DbContext
        => Apply<TContext, RouteGroupBuilder>(builder, name, timeout);

    /// <summary>Runs every endpoint of the group under a named lock built from the route values, without waiting.</summary>
    /// <inheritdoc cref="RequireNamedLock{TContext}(RouteHandlerBuilder, string)" />
    public static RouteGroupBuilder RequireNamedLock<TContext>(this RouteGroupBuilder builder, string name)
        where TContext : DbContext
        => Apply<TContext, RouteGroupBuilder>(builder, name, TimeSpan.Zero);

    private static TBuilder Apply<TContext, TBuilder>(TBuilder builder, string name, TimeSpan timeout)
        where TContext : DbContext
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(timeout, TimeSpan.FromMilliseconds(int.MaxValue)); // the named lock's limit, refused here rather than on every request
        var template = NamedLockTemplate.Parse(name);

        builder.Add(endpoint =>
        {
            if (endpoint is RouteEndpointBuilder route)
            {
                template.Validate(route.RoutePattern, endpoint.DisplayName);
            }
        });

        builder.AddEndpointFilter(async (invocation, next) =>
        {
            var http = invocation.HttpContext;
            var lockName = template.Format(http);
            var database = http.RequestServices.GetRequiredService<TContext>().Database;
            await using var handle = await database.TryAcquireLockAsync(lockName, timeout, http.RequestAborted).ConfigureAwait(false);
            if (handle is null)
            {
                var options = http.RequestServices.GetService<IOptions<ConcurrencyHttpOptions>>()?.Value ?? new ConcurrencyHttpOptions();
                return TypedResults.Problem(ConcurrencyProblems.NamedLockBusy(lockName, options));
            }

            return await NamedLockScope.RunAsync(invocation, next, handle).ConfigureAwait(false);
        });

        return builder;
    }
}
