using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace Concurrency.AspNetCore;

/// <summary>
///     Strong ETags derived from an entity's version field: <c>"&lt;resource&gt;-&lt;version&gt;"</c>, where the resource
///     part is a short hash of the entity type and key, so tags of different resources never compare equal, and the
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

    private static string Resource(EntityEntry entry)
    {
        var text = new StringBuilder(entry.Metadata.Name);
        foreach (var property in entry.Metadata.FindPrimaryKey()?.Properties ?? [])
        {
            text.Append('|').Append(Convert.ToString(entry.Property(property).CurrentValue, CultureInfo.InvariantCulture));
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return Convert.ToHexStringLower(hash[..6]);
    }
}
