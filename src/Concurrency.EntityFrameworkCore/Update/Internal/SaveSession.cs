using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     What the save path of one DbContext remembers between EF's events: a scoped service shared by the interceptors
///     and the database decorator (a context is never used by two threads at once, so nothing here is locked).
/// </summary>
internal sealed class SaveSession : IResettableService
{
    /// <summary>The version values the current save changed, restored when it fails.</summary>
    public VersionChangeLog Changes { get; } = new();

    /// <summary>The version each tracked entity was loaded with, to tell which side the application changed.</summary>
    public LoadedVersions Loaded { get; } = new();

    /// <summary>Versions saved inside a transaction of the application that may still be rolled back.</summary>
    public TransactionVersionLog Transactions { get; } = new();

    /// <summary>
    ///     Rows the current save must read under a row lock before EF writes (see <see cref="PreSaveRead" />); kept until the
    ///     save ends, so a retrying execution strategy reads them again on every attempt.
    /// </summary>
    public PreSaveReads? PendingReads { get; set; }

    /// <summary>
    ///     Set when EF reached the database for the current save: its entries are final, so a DetectChanges after this
    ///     point (in an application's SavedChanges interceptor, say) must not prepare versions again.
    /// </summary>
    public bool DatabaseReached { get; set; }

    /// <summary>A pooled context is being returned to the pool: forget everything about the previous lease.</summary>
    public void ResetState()
    {
        Changes.Clear();
        Loaded.Reset();
        Transactions.Reset();
        PendingReads = null;
        DatabaseReached = false;
    }

    /// <inheritdoc cref="ResetState" />
    public Task ResetStateAsync(CancellationToken cancellationToken = default)
    {
        ResetState();
        return Task.CompletedTask;
    }

    /// <summary>
    ///     The version the next save of <paramref name="entry" /> will be checked against (see
    ///     <see cref="LoadedVersions.ExpectedVersion" />).
    /// </summary>
    public static long ExpectedVersion(EntityEntry entry, VersionFieldMetadata metadata)
    {
        var property = entry.Property(metadata.Property);
        var original = metadata.ToLong(property.OriginalValue);
        var current = metadata.ToLong(property.CurrentValue);
        return entry.Context.GetInfrastructure().GetService(typeof(SaveSession)) is SaveSession session
            ? session.Loaded.ExpectedVersion(entry.Entity, original, current)
            : original;
    }

    /// <summary>Starts listening to the context's change tracker (once), so loaded versions are recorded.</summary>
    public void Observe(DbContext context)
        => Loaded.Observe(context);
}
