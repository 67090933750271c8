using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.AspNetCore;

/// <summary>
///     Strong ETags derived from an entity's version field: <c>"&lt;resource&gt;-&lt;version&gt;"</c>, where the resource
///     part is a short hash of the entity type and key (its parts escaped, so that composite keys cannot run into each
///     other), so tags of different resources never compare equal, and the
///     version changes with every save (and with every raw SQL edit, for trigger versions).
/// </summary>
public static class VersionETag
{
    /// <summary>The entity's current ETag, quoted, as it goes in the <c>ETag</c> header.</summary>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <returns>For example <c>"3f9a0c41d2e7-4"</c>.</returns>
    /// <exception cref="InvalidOperationException">The entity type has no version field.</exception>
    public static string For(EntityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return string.Create(CultureInfo.InvariantCulture, $"\"{Resource(entry)}-{entry.GetVersion()}\"");
    }

    /// <summary>
    ///     Reads the version from an ETag that this class made for the same resource (same type and key).
    /// </summary>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <param name="etag">A quoted strong ETag, such as one sent back in <c>If-Match</c>.</param>
    /// <param name="version">The version the tag carries.</param>
    /// <returns><see langword="false" /> when the tag is weak, malformed, or made for another resource.</returns>
    public static bool TryGetVersion(EntityEntry entry, string etag, out long version)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(etag);
        version = 0;
        if (etag.Length < 4 || etag[0] != '"' || etag[^1] != '"')
        {
            return false;
        }

        var body = etag.AsSpan(1, etag.Length - 2);
        var dash = body.LastIndexOf('-');
        return dash > 0
            && body[..dash].SequenceEqual(Resource(entry))
            && long.TryParse(body[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out version);
    }

    /// <summary>
    ///     A short hash of <c>type|key part|key part...</c>. Each part is escaped (<c>\</c> and <c>|</c> get a backslash),
    ///     so the text is read back unambiguously: the keys <c>("a|b", "c")</c> and <c>("a", "b|c")</c> give different
    ///     texts. Parts without those characters are unchanged, so the tags of ordinary keys are the same as before.
    /// </summary>
    private static string Resource(EntityEntry entry)
    {
        var text = new StringBuilder();
        AppendEscaped(text, entry.Metadata.Name);
        foreach (var property in entry.Metadata.FindPrimaryKey()?.Properties ?? [])
        {
            text.Append('|');
            if (entry.Property(property).CurrentValue is { } value)
            {
                AppendEscaped(text, KeyText(property, value));
            }
            else
            {
                text.Append("\\0"); // no escaped text looks like this
            }
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return Convert.ToHexStringLower(hash[..6]);
    }

    private static void AppendEscaped(StringBuilder text, string part)
    {
        foreach (var c in part)
        {
            text.Append(c is '\\' or '|' ? "\\" : string.Empty).Append(c);
        }
    }

    /// <summary>
    ///     A text that differs for every key value: the invariant text where that is exact (as tags always used), round-trip
    ///     formats where it drops precision (dates and times), and the database value for other types with a value converter.
    /// </summary>
    private static string KeyText(IProperty property, object value)
        => ExactText(value)
            ?? (property.GetTypeMapping().Converter?.ConvertToProvider(value) is { } stored ? ExactText(stored) : null)
            ?? Convert.ToString(value, CultureInfo.InvariantCulture)
            ?? string.Empty;

    private const string Instant = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffff";

    private static string? ExactText(object value)
        => value switch
        {
            // Without the kind or offset, which EF's key comparison ignores too (a row read back has another kind or offset).
            DateTime time => time.ToString(Instant, CultureInfo.InvariantCulture),
            DateTimeOffset time => time.UtcDateTime.ToString(Instant, CultureInfo.InvariantCulture),
            TimeOnly time => time.ToString("O", CultureInfo.InvariantCulture),
            byte[] bytes => Convert.ToHexString(bytes),
            IConvertible or Guid or TimeSpan or DateOnly => Convert.ToString(value, CultureInfo.InvariantCulture),
            _ => null,
        };
}
