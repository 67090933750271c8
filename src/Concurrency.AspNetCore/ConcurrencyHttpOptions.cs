using System.Security.Claims;
using Concurrency.AspNetCore.Internal;
using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore;

/// <summary>How concurrency errors and preconditions become HTTP answers. Configure with <c>AddConcurrencyProblemDetails(o => ...)</c>.</summary>
public sealed class ConcurrencyHttpOptions
{
    private int _objectLockedStatusCode = StatusCodes.Status409Conflict;
    private Func<DbUpdateConcurrencyException, string> _conflictMessage = ClientText.Conflict;
    private Func<ObjectLockException, string> _lockMessage = ClientText.Lock;
    private int _namedLockBusyStatusCode = StatusCodes.Status409Conflict;
    private Func<string, string> _namedLockBusyMessage = ClientText.NamedLockBusy;

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

    /// <summary>
    ///     The <c>detail</c> of the 409 problem for a write that lost a race (<see cref="RecordModifiedException" /> or any
    ///     other <see cref="DbUpdateConcurrencyException" />), written for the person using the application: the
    ///     exception's message is advice for its developer, and is logged instead. Set it to translate or reword the text;
    ///     the problem's extensions (<c>entity</c>, <c>key</c>, <c>expectedVersion</c>, <c>actualVersion</c>,
    ///     <c>wasDeleted</c>) stay for programs. Pages can show the same text by calling it. Defaults to a text such as
    ///     "This article was changed by someone else after you loaded it. Nothing of your change was saved. Reload it to
    ///     see the current version, then apply your change again."
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to <see langword="null" />.</exception>
    public Func<DbUpdateConcurrencyException, string> ConflictMessage
    {
        get => _conflictMessage;
        set => _conflictMessage = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    ///     The <c>detail</c> of the problem for an object-lock error (<see cref="ObjectLockedException" />,
    ///     <see cref="ObjectAlreadyLockedException" />, <see cref="ObjectAlreadyUnlockedException" />), written for the
    ///     person using the application; the exception's message (advice for the developer) is logged instead, and the
    ///     extensions (<c>entity</c>, <c>key</c>, <c>lockedBy</c>, <c>lockedAt</c>, <c>lockExpiresAt</c>) stay for
    ///     programs. Defaults to a text such as "This article is locked by alice until 2025-01-31 12:00:00Z, so it cannot
    ///     be changed now. Nothing of your change was saved. Try again after it is unlocked or the lock runs out."
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to <see langword="null" />.</exception>
    public Func<ObjectLockException, string> LockMessage
    {
        get => _lockMessage;
        set => _lockMessage = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    ///     The status code when a named lock is busy: a request refused by <c>RequireNamedLock</c>, or a
    ///     <see cref="LockTimeoutException" /> reaching the exception handler. 409 Conflict, or 423 Locked (WebDAV, RFC 4918)
    ///     for clients that understand it. Defaults to 409.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to something other than 409 or 423.</exception>
    public int NamedLockBusyStatusCode
    {
        get => _namedLockBusyStatusCode;
        set => _namedLockBusyStatusCode = value is StatusCodes.Status409Conflict or StatusCodes.Status423Locked
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "A busy named lock is answered with 409 Conflict or 423 Locked.");
    }

    /// <summary>
    ///     The <c>detail</c> of the problem for a busy named lock, from the lock's name, written for the person using the
    ///     application; the problem's <c>lockName</c> extension stays for programs. Defaults to a text such as "This is
    ///     already being done (import:42) by another request. Nothing was done for yours. Try again when it has finished."
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to <see langword="null" />.</exception>
    public Func<string, string> NamedLockBusyMessage
    {
        get => _namedLockBusyMessage;
        set => _namedLockBusyMessage = value ?? throw new ArgumentNullException(nameof(value));
    }
}
