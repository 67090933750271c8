using Concurrency.AspNetCore;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Builder;

/// <summary>Endpoint metadata for conditional requests.</summary>
public static class ConcurrencyEndpointConventionBuilderExtensions
{
    /// <summary>
    ///     Requires <c>If-Match</c> on the endpoint's unsafe requests: <c>CheckPreconditions</c> answers 428 Precondition
    ///     Required without it.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or group builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static TBuilder RequireIfMatch<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => endpoint.Metadata.Add(new RequireIfMatchAttribute()));
        return builder;
    }
}
