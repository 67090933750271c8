using Concurrency.EntityFrameworkCore.Update.Internal;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Checks of a versioned entity against the database.</summary>
public static class ConcurrencyDbContextExtensions
{
    /// <summary>
    ///     Whether saving <paramref name="entity" /> now would conflict: the row no longer has the version this context
    ///     expects (the loaded one, or the one set with <c>ExpectVersion</c>), or the row no longer exists. Reads one row.
    /// </summary>
    /// <param name="context">The context tracking (or able to attach) the entity.</param>
    /// <param name="entity">A versioned entity.</param>
    /// <returns><see langword="true" /> when someone else changed or deleted the row.</returns>
    /// <exception cref="InvalidOperationException">The entity type has no version field.</exception>
    public static bool IsChanged(this DbContext context, object entity)
    {
        var (entry, metadata) = Prepare(context, entity);
        var expected = SaveSession.ExpectedVersion(entry, metadata);
        var values = entry.GetDatabaseValues();
        return values is null || metadata.ToLong(values[metadata.Property]) != expected;
    }

    /// <inheritdoc cref="IsChanged(DbContext, object)" />
    /// <param name="context">The context tracking (or able to attach) the entity.</param>
    /// <param name="entity">A versioned entity.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public static async Task<bool> IsChangedAsync(this DbContext context, object entity, CancellationToken cancellationToken = default)
    {
        var (entry, metadata) = Prepare(context, entity);
        var expected = SaveSession.ExpectedVersion(entry, metadata);
        var values = await entry.GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false);
        return values is null || metadata.ToLong(values[metadata.Property]) != expected;
    }

    private static (ChangeTracking.EntityEntry Entry, Concurrency.EntityFrameworkCore.Metadata.Internal.VersionFieldMetadata Metadata) Prepare(
        DbContext context,
        object entity)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(entity);
        var entry = context.Entry(entity);
        return (entry, ConcurrencyEntityEntryExtensions.Require(entry));
    }
}
