using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;

namespace Concurrency.AspNetCore.Internal;

/// <summary>The parameters of a lock or unlock request, checked before anything is looked up or written.</summary>
/// <typeparam name="TKey">The entity's key type.</typeparam>
/// <param name="Key">The <c>{id}</c> route value, parsed.</param>
/// <param name="LeaseSeconds">The lease the client asked for (<c>?leaseSeconds=N</c>, lock only), or <see langword="null" />.</param>
/// <param name="Force">Whether the client asked to break someone else's lock (<c>?force=true</c>, unlock only).</param>
internal readonly record struct ObjectLockRequest<TKey>(TKey Key, int? LeaseSeconds, bool Force);

/// <summary>
///     Reads <see cref="ObjectLockRequest{TKey}" />: a value the endpoint cannot use is a 400 problem+json (a validation
///     problem whose <c>errors</c> name the parameter) that says what is allowed, never a 500 and never a silent default.
/// </summary>
internal static class ObjectLockRequest
{
    public const string Id = "id";
    public const string LeaseSeconds = "leaseSeconds";
    public const string Force = "force";

    private const string Lease = "a whole number of seconds from 1 to 2147483647";

    public static bool TryRead<TKey>(
        string id,
        IQueryCollection query,
        bool lockIt,
        Type entityType,
        out ObjectLockRequest<TKey> request,
        [NotNullWhen(false)] out ValidationProblem? invalid)
        where TKey : notnull
    {
        request = default;
        if (!RouteKeyParser.TryParse<TKey>(id, out var key))
        {
            invalid = Invalid(Id, $"'{id}' is not a valid {ClientText.Name(entityType)} id: it must be a valid {typeof(TKey).Name}.");
            return false;
        }

        int? leaseSeconds = null;
        if (query.TryGetValue(LeaseSeconds, out var lease))
        {
            if (!lockIt)
            {
                invalid = Invalid(LeaseSeconds, $"{LeaseSeconds} applies only to lock ({{id}}/lock): leave it out when unlocking.");
                return false;
            }

            if (Single(lease) is not { } text
                || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                || seconds <= 0)
            {
                invalid = Invalid(LeaseSeconds, $"'{lease}' is not a lease: give {Lease}, once.");
                return false;
            }

            leaseSeconds = seconds;
        }

        var force = false;
        if (query.TryGetValue(Force, out var forced))
        {
            if (lockIt)
            {
                invalid = Invalid(Force, $"{Force} applies only to unlock ({{id}}/unlock): leave it out when locking.");
                return false;
            }

            if (Single(forced) is not { } text || !bool.TryParse(text, out force))
            {
                invalid = Invalid(Force, $"'{forced}' is not a choice: give true or false, once.");
                return false;
            }
        }

        request = new ObjectLockRequest<TKey>(key, leaseSeconds, force);
        invalid = null;
        return true;
    }

    /// <summary>The lease the client asked for cannot be used because the entity type has no lease property.</summary>
    public static ValidationProblem LeaseNotSupported(Type entityType)
        => Invalid(LeaseSeconds, $"This {ClientText.Name(entityType)} can only be locked without a lease: leave out {LeaseSeconds}.");

    private static string? Single(StringValues values)
        => values.Count == 1 ? values[0] : null;

    private static ValidationProblem Invalid(string parameter, string error)
        => TypedResults.ValidationProblem(
            new Dictionary<string, string[]> { [parameter] = [error] },
            detail: $"The parameter '{parameter}' is not valid: {error}",
            title: "A request parameter is not valid");
}
