using Concurrency.AspNetCore.Internal;
using Concurrency.EntityFrameworkCore;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Http;

/// <summary>The named lock an endpoint runs under (<c>RequireNamedLock</c>).</summary>
public static class ConcurrencyNamedLockHttpContextExtensions
{
    /// <summary>
    ///     The lock <c>RequireNamedLock</c> holds while this request's handler runs (the innermost one when a group and an
    ///     endpoint both require one), for its <see cref="NamedLockHandle.FencingToken" /> and
    ///     <see cref="NamedLockHandle.HandleLostToken" />; <see langword="null" /> outside such an endpoint.
    /// </summary>
    /// <param name="httpContext">The request's context.</param>
    /// <returns>The handle, or <see langword="null" />.</returns>
    public static NamedLockHandle? GetNamedLock(this HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        return NamedLockScope.Current(httpContext);
    }
}
