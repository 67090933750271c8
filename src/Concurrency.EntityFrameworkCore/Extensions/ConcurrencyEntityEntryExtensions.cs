using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore.ChangeTracking;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Versions of tracked entities, for the disconnected pattern (the client sends back the version it read).</summary>
public static class ConcurrencyEntityEntryExtensions
{
    /// <summary>Whether the entry's entity type has a version field (so <c>GetVersion</c> and <c>ExpectVersion</c> apply).</summary>
    /// <param name="entry">An entry.</param>
    /// <returns><see langword="true" /> for versioned entity types.</returns>
    public static bool HasVersionField(this EntityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return VersionFieldMetadata.Find(entry.Metadata) is not null;
    }

    /// <summary>
    ///     Sets the version the next save of this entity is checked against: typically the version the client read and
    ///     sent back (in a form field, a JSON body or an <c>If-Match</c> header). If the row has another version by then,
    ///     SaveChanges throws <see cref="RecordModifiedException" />.
    /// </summary>
    /// <remarks>
    ///     This is what EF Core users get wrong by hand: assigning the client's version to the property's current value
    ///     makes EF compare against the value it loaded, so nothing is checked. (This library also treats a version written
    ///     into the property as the expected one, so both ways are safe here.)
    /// </remarks>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <param name="version">The version the client expects the row to have. Must not be negative.</param>
    /// <returns>The same entry, for chaining.</returns>
    /// <exception cref="InvalidOperationException">The entity type has no version field.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The version is negative or does not fit the property's type.</exception>
    /// <exception cref="InvalidOperationException">The entity is being added (an insert has no row to check against).</exception>
    public static EntityEntry ExpectVersion(this EntityEntry entry, long version)
    {
        var metadata = Require(entry);
        if (version < 0 || (metadata.IsInt32 && version > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(
                nameof(version),
                version,
                $"'{entry.Metadata.DisplayName()}.{metadata.Property.Name}' cannot hold version {version}.");
        }

        if (entry.State == EntityState.Added)
        {
            throw new InvalidOperationException(
                $"'{entry.Metadata.DisplayName()}' is being added, so there is no row whose version could be checked:"
                + " ExpectVersion applies to updates and deletes of existing rows. To insert with a given version (an import),"
                + $" set the '{metadata.Property.Name}' property itself.");
        }

        var property = entry.Property(metadata.Property);
        var value = metadata.FromLong(version);
        property.OriginalValue = value;
        property.CurrentValue = value;
        return entry;
    }

    /// <inheritdoc cref="ExpectVersion(EntityEntry, long)" />
    public static EntityEntry<TEntity> ExpectVersion<TEntity>(this EntityEntry<TEntity> entry, long version)
        where TEntity : class
        => (EntityEntry<TEntity>)ExpectVersion((EntityEntry)entry, version);

    /// <summary>
    ///     The entity's version as the change tracker knows it: the version it was loaded with, updated after each
    ///     successful save. Works for shadow version fields too.
    /// </summary>
    /// <param name="entry">The entry of a versioned entity.</param>
    /// <returns>The version.</returns>
    /// <exception cref="InvalidOperationException">The entity type has no version field.</exception>
    public static long GetVersion(this EntityEntry entry)
    {
        var metadata = Require(entry);
        return metadata.ToLong(entry.Property(metadata.Property).CurrentValue);
    }

    internal static VersionFieldMetadata Require(EntityEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return VersionFieldMetadata.Find(entry.Metadata)
            ?? throw new InvalidOperationException(
                $"The entity type '{entry.Metadata.DisplayName()}' has no version field. Add [VersionField] to an int or long"
                + " property (and call modelBuilder.UseVersioning()), or configure one with IsVersionField() or HasVersionField().");
    }
}
