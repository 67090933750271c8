using Concurrency.AspNetCore;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

// ReSharper disable once CheckNamespace
namespace Microsoft.AspNetCore.Http;

/// <summary>ETags and conditional requests (RFC 9110 section 13) for versioned entities, in minimal APIs and MVC alike.</summary>
public static class ConcurrencyHttpContextExtensions
{
    /// <summary>Sets the response's <c>ETag</c> header to the entity's current tag (see <see cref="VersionETag" />).</summary>
    /// <param name="httpContext">The request's context.</param>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <returns>The tag that was set.</returns>
    public static string SetETag(this HttpContext httpContext, EntityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var etag = VersionETag.For(entry);
        httpContext.Response.Headers[HeaderNames.ETag] = etag;
        return etag;
    }

    /// <summary>
    ///     Sets the <c>ETag</c> header and, for GET and HEAD, answers whether the client's <c>If-None-Match</c> already
    ///     names the current tag (then answer 304 Not Modified without a body).
    /// </summary>
    /// <param name="httpContext">The request's context.</param>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <returns><see langword="true" /> when the client's copy is current.</returns>
    /// <exception cref="HttpPreconditionException">400: the <c>If-None-Match</c> header is malformed, or has <c>*</c> beside anything else.</exception>
    public static bool IsNotModified(this HttpContext httpContext, EntityEntry entry)
    {
        var etag = httpContext.SetETag(entry);
        var method = httpContext.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            return false;
        }

        return ParseList(httpContext, HeaderNames.IfNoneMatch) is { } tags && AnyMatches(tags, etag, strong: false);
    }

    /// <summary>
    ///     The answer to a read of a versioned entity in a minimal API: 200 with <paramref name="body" /> and the
    ///     <c>ETag</c> header, or 304 Not Modified when the client's <c>If-None-Match</c> names the current tag.
    /// </summary>
    /// <param name="httpContext">The request's context.</param>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <param name="body">What to send; defaults to the entity itself.</param>
    /// <returns>The result to return from the endpoint.</returns>
    public static IResult VersionedOk(this HttpContext httpContext, EntityEntry entry, object? body = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return httpContext.IsNotModified(entry)
            ? TypedResults.StatusCode(StatusCodes.Status304NotModified)
            : TypedResults.Ok(body ?? entry.Entity);
    }

    /// <summary>
    ///     Evaluates the request's preconditions against the entity before anything is written, and makes the next save
    ///     check the version the client saw: a matching <c>If-Match</c> becomes the expected version (through
    ///     <c>ExpectVersion</c>), so a write that raced in between still fails with <see cref="Concurrency.EntityFrameworkCore.RecordModifiedException" /> (409).
    /// </summary>
    /// <remarks>
    ///     <para>Throws, for <c>AddConcurrencyProblemDetails</c> to answer (or catch it yourself):</para>
    ///     <list type="bullet">
    ///         <item>412 when <c>If-Match</c> names no current tag of this resource (a weak tag never matches), or when
    ///         <c>If-None-Match</c> names the current tag or is <c>*</c> on a write;</item>
    ///         <item>428 when an unsafe request has no <c>If-Match</c> and the endpoint requires one
    ///         (<c>RequireIfMatch()</c>, <c>[RequireIfMatch]</c>, or <see cref="ConcurrencyHttpOptions.RequireIfMatch" />);</item>
    ///         <item>400 when a header is not a valid list of entity tags, or has <c>*</c> beside anything else.</item>
    ///     </list>
    ///     <para><c>If-Match: *</c> matches any current representation (RFC 9110): the save is then checked against the
    ///     version that was loaded.</para>
    /// </remarks>
    /// <param name="httpContext">The request's context.</param>
    /// <param name="entry">The entry of the versioned entity the request changes, as loaded.</param>
    /// <exception cref="HttpPreconditionException">A precondition is not met (400, 412 or 428).</exception>
    public static void CheckPreconditions(this HttpContext httpContext, EntityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ArgumentNullException.ThrowIfNull(entry);
        var current = VersionETag.For(entry);
        var unsafeMethod = !(HttpMethods.IsGet(httpContext.Request.Method) || HttpMethods.IsHead(httpContext.Request.Method)
            || HttpMethods.IsOptions(httpContext.Request.Method) || HttpMethods.IsTrace(httpContext.Request.Method));

        if (ParseList(httpContext, HeaderNames.IfMatch) is { } ifMatch)
        {
            if (!AnyMatches(ifMatch, current, strong: true))
            {
                throw new HttpPreconditionException(
                    StatusCodes.Status412PreconditionFailed,
                    $"If-Match names no current version of this resource: it is now {current}. Nothing was written. "
                    + "Read the resource again (GET), apply the change to it, and send its new ETag.",
                    current);
            }

            // The version the client names (a match means it is the loaded one) is the version the save checks.
            foreach (var tag in ifMatch)
            {
                if (!tag.IsWeak && VersionETag.TryGetVersion(entry, tag.Tag.ToString(), out var version) && tag.Compare(new EntityTagHeaderValue(current), useStrongComparison: true))
                {
                    entry.ExpectVersion(version);
                    break;
                }
            }
        }
        else if (unsafeMethod && IsIfMatchRequired(httpContext))
        {
            throw new HttpPreconditionException(
                StatusCodes.Status428PreconditionRequired,
                "This request must say which version it changes: send the ETag from your last GET in an If-Match header.");
        }

        if (unsafeMethod && ParseList(httpContext, HeaderNames.IfNoneMatch) is { } ifNoneMatch && AnyMatches(ifNoneMatch, current, strong: false))
        {
            throw new HttpPreconditionException(
                StatusCodes.Status412PreconditionFailed,
                $"If-None-Match matches the current version {current} of this resource. Nothing was written.",
                current);
        }
    }

    private static bool IsIfMatchRequired(HttpContext httpContext)
        => httpContext.GetEndpoint()?.Metadata.GetMetadata<RequireIfMatchAttribute>() is not null
            || httpContext.RequestServices.GetService<IOptions<ConcurrencyHttpOptions>>()?.Value.RequireIfMatch == true;

    /// <summary>The header's entity tags, null when absent; 400 when present but not a valid list, or * beside anything else.</summary>
    private static IList<EntityTagHeaderValue>? ParseList(HttpContext httpContext, string header)
    {
        var values = httpContext.Request.Headers[header];
        if (StringValues.IsNullOrEmpty(values))
        {
            return null;
        }

        if (!EntityTagHeaderValue.TryParseStrictList(values, out var tags) || tags.Count == 0)
        {
            throw new HttpPreconditionException(
                StatusCodes.Status400BadRequest,
                $"The {header} header is not a valid list of entity tags (RFC 9110 section 8.8.3): '{values}'. "
                + "Send the ETag exactly as received, quotes included, or *.");
        }

        // RFC 9110 section 13.1.1 and 13.1.2: the field value is "*" or a list of entity tags, never both.
        if (tags.Count > 1 && tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any)))
        {
            throw new HttpPreconditionException(
                StatusCodes.Status400BadRequest,
                $"The {header} header mixes * with other values: '{values}'. RFC 9110 allows * only alone: send either * "
                + "or a list of entity tags.");
        }

        return tags;
    }

    private static bool AnyMatches(IList<EntityTagHeaderValue> tags, string current, bool strong)
    {
        var currentTag = new EntityTagHeaderValue(current);
        foreach (var tag in tags)
        {
            if (tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(currentTag, useStrongComparison: strong))
            {
                return true;
            }
        }

        return false;
    }
}
