using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Http;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     What <c>RequireNamedLock</c> does while the handler runs under the lock: makes the handle visible to the handler
///     (<c>HttpContext.GetNamedLock()</c>) and cancels the request's token when the lock is lost, restoring both after.
/// </summary>
internal static class NamedLockScope
{
    private static readonly object ItemsKey = new();

    /// <summary>The innermost lock taken by <c>RequireNamedLock</c> for this request, if any.</summary>
    public static NamedLockHandle? Current(HttpContext http)
        => http.Items.TryGetValue(ItemsKey, out var value) ? value as NamedLockHandle : null;

    /// <summary>
    ///     Runs the handler and then its result under the lock: an <see cref="IResult" /> is executed here, an object is
    ///     written as JSON here (an <see cref="IAsyncEnumerable{T}" /> runs the application's code while it is written), and
    ///     an empty result goes back to the framework, so nothing of the handler's work is left for after the release.
    /// </summary>
    public static async ValueTask<object?> RunAsync(
        EndpointFilterInvocationContext invocation,
        EndpointFilterDelegate next,
        NamedLockHandle handle)
    {
        var http = invocation.HttpContext;
        var outerHandle = Current(http);
        var outerAborted = http.RequestAborted;
        using var lostOrAborted = CancellationTokenSource.CreateLinkedTokenSource(outerAborted, handle.HandleLostToken);

        // Minimal APIs bind a CancellationToken parameter before the filters run: hand the handler the linked token.
        var arguments = invocation.Arguments;
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i] is CancellationToken token && token == outerAborted)
            {
                arguments[i] = lostOrAborted.Token;
            }
        }

        http.Items[ItemsKey] = handle;
        http.RequestAborted = lostOrAborted.Token;
        try
        {
            var returned = await next(invocation).ConfigureAwait(false);
            switch (returned)
            {
                case IResult result:
                    // The result's own work (a stream, a file, a callback) runs now, under the lock.
                    await result.ExecuteAsync(http).ConfigureAwait(false);
                    return Results.Empty;
                case null or string or ValueType:
                    return returned; // written as it is: nothing of the application's runs after the handler
                default:
                    // The framework would serialize it after the filters, when the lock is released (and an
                    // IAsyncEnumerable runs the application's code then): write it as JSON now, as the framework would.
                    await TypedResults.Json(returned, (System.Text.Json.JsonSerializerOptions?)null, null, null).ExecuteAsync(http).ConfigureAwait(false);
                    return Results.Empty;
            }
        }
        finally
        {
            http.RequestAborted = outerAborted;
            http.Items[ItemsKey] = outerHandle;
        }
    }
}
