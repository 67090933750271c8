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

    public static async ValueTask<object?> RunAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next, NamedLockHandle handle)
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
            return await next(invocation).ConfigureAwait(false);
        }
        finally
        {
            http.RequestAborted = outerAborted;
            http.Items[ItemsKey] = outerHandle;
        }
    }
}
