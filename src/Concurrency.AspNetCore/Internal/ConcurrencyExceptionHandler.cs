using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     Answers concurrency errors (stale writes, object locks, failed preconditions) with their status code and a
///     problem+json body instead of a 500. Registered by <c>AddConcurrencyProblemDetails</c>; runs in
///     <c>UseExceptionHandler()</c>. Other exceptions are left to the next handler.
/// </summary>
internal sealed class ConcurrencyExceptionHandler(IProblemDetailsService problemDetails, IOptions<ConcurrencyHttpOptions> options) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (ConcurrencyProblems.Create(exception, options.Value) is not { } problem)
        {
            return false;
        }

        httpContext.Response.StatusCode = problem.Status!.Value;

        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = problem,
                Exception = exception,
            })
            .ConfigureAwait(false);
    }
}
