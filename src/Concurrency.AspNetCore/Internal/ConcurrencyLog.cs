using Microsoft.Extensions.Logging;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     The log of the concurrency errors answered over HTTP: the client reads a text written for it, the developer finds
///     the exception's message (which entity, which versions, what to do in code) here.
/// </summary>
internal static partial class ConcurrencyLog
{
    /// <summary>The category of every entry, so one filter shows them all.</summary>
    public const string Category = "Concurrency.AspNetCore";

    [LoggerMessage(EventId = 1, EventName = "ConcurrencyProblemAnswered", Level = LogLevel.Information,
        Message = "Answered {StatusCode} to {ExceptionType}: {DeveloperMessage}")]
    private static partial void ProblemAnswered(ILogger logger, int statusCode, string exceptionType, string developerMessage);

    public static void ProblemAnswered(ILogger logger, int statusCode, Exception exception)
        => ProblemAnswered(logger, statusCode, exception.GetType().Name, exception.Message);
}
