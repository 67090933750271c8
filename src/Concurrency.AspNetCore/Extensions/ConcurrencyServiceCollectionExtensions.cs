using Concurrency.AspNetCore;
using Concurrency.AspNetCore.Internal;

// ReSharper disable once CheckNamespace
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the HTTP answers for concurrency errors.</summary>
public static class ConcurrencyServiceCollectionExtensions
{
    /// <summary>
    ///     Turns concurrency errors into HTTP answers with a problem+json body (RFC 9457) instead of a 500:
    ///     <see cref="Concurrency.EntityFrameworkCore.RecordModifiedException" /> becomes 409 Conflict with <c>entity</c>,
    ///     <c>key</c>, <c>expectedVersion</c>, <c>actualVersion</c> and <c>wasDeleted</c>; object-lock errors become 409
    ///     (or 423, see <see cref="ConcurrencyHttpOptions.ObjectLockedStatusCode" />); failed preconditions 400, 412 or 428.
    ///     Add <c>app.UseExceptionHandler()</c> to the pipeline.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Sets <see cref="ConcurrencyHttpOptions" />.</param>
    /// <returns>The same collection, for chaining.</returns>
    public static IServiceCollection AddConcurrencyProblemDetails(this IServiceCollection services, Action<ConcurrencyHttpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddProblemDetails();
        services.AddExceptionHandler<ConcurrencyExceptionHandler>();
        var options = services.AddOptions<ConcurrencyHttpOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return services;
    }
}
