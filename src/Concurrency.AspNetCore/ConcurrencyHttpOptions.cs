using System.Security.Claims;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Http;

namespace Concurrency.AspNetCore;

/// <summary>How concurrency errors and preconditions become HTTP answers. Configure with <c>AddConcurrencyProblemDetails(o => ...)</c>.</summary>
public sealed class ConcurrencyHttpOptions
{
    private int _objectLockedStatusCode = StatusCodes.Status409Conflict;

    /// <summary>
    ///     The status code for <see cref="ObjectLockedException" />: 409 Conflict, or 423 Locked (WebDAV, RFC 4918) for
    ///     clients that understand it. Defaults to 409.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to something other than 409 or 423.</exception>
    public int ObjectLockedStatusCode
    {
        get => _objectLockedStatusCode;
        set => _objectLockedStatusCode = value is StatusCodes.Status409Conflict or StatusCodes.Status423Locked
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "An object lock is answered with 409 Conflict or 423 Locked.");
    }

    /// <summary>
    ///     Whether every unsafe request checked with <c>CheckPreconditions</c> must carry <c>If-Match</c> (else 428
    ///     Precondition Required), not only endpoints marked with <c>RequireIfMatch()</c> or <c>[RequireIfMatch]</c>.
    ///     Defaults to <see langword="false" />.
    /// </summary>
    public bool RequireIfMatch { get; set; }

    /// <summary>
    ///     Who the request acts for, as the owner of object locks (see <see cref="ObjectLockOwner" />). Defaults to the
    ///     signed-in user's name (<see cref="ClaimsIdentity.Name" />), or <see langword="null" /> for anonymous requests.
    /// </summary>
    public Func<HttpContext, string?> LockOwner { get; set; } = static http => http.User.Identity is { IsAuthenticated: true } identity ? identity.Name : null;
}
