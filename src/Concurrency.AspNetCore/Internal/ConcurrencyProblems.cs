using Concurrency.EntityFrameworkCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     Builds the problem+json bodies (RFC 9457) for concurrency errors, shared by the exception handler and the lock
///     endpoints. The <c>detail</c> is written for the person using the application (see
///     <see cref="ConcurrencyHttpOptions.ConflictMessage" />); the exception's message, advice for its developer, is logged.
/// </summary>
internal static class ConcurrencyProblems
{
    public static ProblemDetails? Create(Exception exception, ConcurrencyHttpOptions options)
    {
        switch (exception)
        {
            case RecordModifiedException modified:
            {
                var problem = Problem(
                    StatusCodes.Status409Conflict,
                    modified.WasDeleted ? "The record was deleted by someone else" : "The record was modified by someone else",
                    options.ConflictMessage(modified));
                var first = modified.Conflicts[0];
                problem.Extensions["entity"] = first.Entry.Metadata.ClrType.Name;
                problem.Extensions["key"] = first.Key;
                problem.Extensions["expectedVersion"] = first.ExpectedVersion;
                problem.Extensions["actualVersion"] = first.ActualVersion;
                problem.Extensions["wasDeleted"] = first.WasDeleted;
                if (modified.Conflicts.Count > 1)
                {
                    problem.Extensions["conflicts"] = modified.Conflicts.Select(c => new
                    {
                        entity = c.Entry.Metadata.ClrType.Name,
                        key = c.Key,
                        expectedVersion = c.ExpectedVersion,
                        actualVersion = c.ActualVersion,
                        wasDeleted = c.WasDeleted,
                    }).ToList();
                }

                return problem;
            }

            case ObjectLockException locked:
            {
                var problem = locked switch
                {
                    ObjectLockedException => Problem(options.ObjectLockedStatusCode, "The record is locked", options.LockMessage(locked)),
                    ObjectAlreadyLockedException => Problem(StatusCodes.Status409Conflict, "The record is already locked", options.LockMessage(locked)),
                    _ => Problem(StatusCodes.Status409Conflict, "The record is not locked", options.LockMessage(locked)),
                };
                problem.Extensions["entity"] = locked.EntityType.Name;
                problem.Extensions["key"] = locked.Key;
                problem.Extensions["lockedBy"] = locked.LockedBy;
                problem.Extensions["lockedAt"] = locked.LockedAt;
                problem.Extensions["lockExpiresAt"] = locked.LockExpiresAt;
                return problem;
            }

            case HttpPreconditionException precondition:
            {
                var problem = Problem(
                    precondition.StatusCode,
                    precondition.StatusCode switch
                    {
                        StatusCodes.Status412PreconditionFailed => "Precondition Failed",
                        StatusCodes.Status428PreconditionRequired => "Precondition Required",
                        _ => "Malformed precondition header",
                    },
                    precondition.Message);

                // In the body: the exception handler middleware strips ETag headers from error responses.
                if (precondition.CurrentETag is { } etag)
                {
                    problem.Extensions["currentETag"] = etag;
                }

                return problem;
            }

            case LockTimeoutException timedOut:
                return NamedLockBusy(timedOut.LockName, options);

            case DbUpdateConcurrencyException concurrency:
                return Problem(StatusCodes.Status409Conflict, "The record was modified by someone else", options.ConflictMessage(concurrency));

            default:
                return null;
        }
    }

    /// <summary>The answer to a request whose named lock another holder has (<c>RequireNamedLock</c>, <see cref="LockTimeoutException" />).</summary>
    public static ProblemDetails NamedLockBusy(string lockName, ConcurrencyHttpOptions options)
    {
        var problem = Problem(options.NamedLockBusyStatusCode, "The operation is already running", options.NamedLockBusyMessage(lockName));
        problem.Extensions["lockName"] = lockName;
        return problem;
    }

    private static ProblemDetails Problem(int status, string title, string detail)
        => new()
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = status switch
            {
                StatusCodes.Status400BadRequest => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.1",
                StatusCodes.Status409Conflict => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.10",
                StatusCodes.Status412PreconditionFailed => "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.13",
                StatusCodes.Status423Locked => "https://www.rfc-editor.org/rfc/rfc4918#section-11.3",
                _ => "https://www.rfc-editor.org/rfc/rfc6585#section-3",
            },
        };
}
