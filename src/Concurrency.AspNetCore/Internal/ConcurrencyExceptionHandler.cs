using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     Answers concurrency errors (stale writes, object locks, failed preconditions) with their status code and a
///     problem+json body instead of a 500. Registered by <c>AddConcurrencyProblemDetails</c>; runs in
///     <c>UseExceptionHandler()</c>. Other exceptions are left to the next handler. The exception's message, written for
///     the developer, goes to the log (the middleware does not log exceptions a handler answered).
/// </summary>
internal sealed class ConcurrencyExceptionHandler(
    IProblemDetailsService problemDetails,
    IOptions<ConcurrencyHttpOptions> options,
    ILoggerFactory loggerFactory) : IExceptionHandler
{
    private readonly ILogger _logger = loggerFactory.CreateLogger(ConcurrencyLog.Category);

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (ConcurrencyProblems.Create(exception, options.Value) is not { } problem)
        {
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        ConcurrencyLog.ProblemAnswered(_logger, problem.Status.Value, exception);

        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = problem,
                Exception = exception,
            })
            .ConfigureAwait(false);
    }
}
