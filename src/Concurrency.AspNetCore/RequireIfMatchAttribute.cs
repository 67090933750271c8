namespace Concurrency.AspNetCore;

/// <summary>
///     Marks an endpoint (an MVC action or controller, or a minimal API through <c>RequireIfMatch()</c>) whose unsafe
///     requests must carry <c>If-Match</c>: <c>CheckPreconditions</c> answers 428 Precondition Required without it, so a
///     client that never read the resource cannot overwrite it blindly.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequireIfMatchAttribute : Attribute;
