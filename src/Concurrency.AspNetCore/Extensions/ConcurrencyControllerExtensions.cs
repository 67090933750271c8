using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore.ChangeTracking;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Mvc;

/// <summary>ETag answers for MVC controllers (use <c>HttpContext.CheckPreconditions(entry)</c> for writes).</summary>
public static class ConcurrencyControllerExtensions
{
    /// <summary>
    ///     200 with <paramref name="body" /> and the <c>ETag</c> header, or 304 Not Modified when the client's
    ///     <c>If-None-Match</c> names the current tag.
    /// </summary>
    /// <param name="controller">The controller.</param>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <param name="body">What to send; defaults to the entity itself.</param>
    /// <returns>The action result.</returns>
    public static IActionResult VersionedOk(this ControllerBase controller, EntityEntry entry, object? body = null)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(entry);
        return controller.HttpContext.IsNotModified(entry)
            ? controller.StatusCode(StatusCodes.Status304NotModified)
            : controller.Ok(body ?? entry.Entity);
    }
}
