using Microsoft.AspNetCore.Http;

namespace Concurrency.AspNetCore;

/// <summary>
///     A request precondition that is not met: thrown by <c>CheckPreconditions</c> before anything is written, and
///     answered by <c>AddConcurrencyProblemDetails</c> with <see cref="StatusCode" /> as problem+json.
/// </summary>
public sealed class HttpPreconditionException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">400 (malformed header), 412 (Precondition Failed) or 428 (Precondition Required).</param>
    /// <param name="message">What was wrong and how to fix the request.</param>
    /// <param name="currentETag">The resource's current ETag, sent back with a 412 (as <c>currentETag</c> in the problem body) so the client can refresh.</param>
    public HttpPreconditionException(int statusCode, string message, string? currentETag = null)
        : base(message)
    {
        StatusCode = statusCode is StatusCodes.Status400BadRequest or StatusCodes.Status412PreconditionFailed or StatusCodes.Status428PreconditionRequired
            ? statusCode
            : throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "A precondition fails with 400, 412 or 428.");
        CurrentETag = currentETag;
    }

    /// <summary>400, 412 or 428.</summary>
    public int StatusCode { get; }

    /// <summary>The resource's current ETag, when known.</summary>
    public string? CurrentETag { get; }
}
