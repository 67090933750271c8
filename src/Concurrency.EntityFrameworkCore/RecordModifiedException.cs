using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     Thrown by SaveChanges when a versioned entity was changed or deleted by someone else since it was loaded (or since
///     the version announced with <c>ExpectVersion</c>). Nothing of that SaveChanges was written.
/// </summary>
/// <remarks>
///     Derives from <see cref="DbUpdateConcurrencyException" />, so existing <c>catch</c> blocks keep working. The
///     top-level properties describe the first conflicting entity; <see cref="Conflicts" /> lists every one.
/// </remarks>
public sealed class RecordModifiedException : DbUpdateConcurrencyException
{
    /// <summary>Creates the exception from the conflicts found.</summary>
    /// <param name="conflicts">The conflicting entities; at least one.</param>
    /// <param name="innerException">EF Core's own concurrency exception.</param>
    internal RecordModifiedException(IReadOnlyList<RecordConflict> conflicts, Exception? innerException)
        : base(BuildMessage(conflicts), innerException)
    {
        Conflicts = conflicts;
        _entries = conflicts.Select(c => c.Entry).ToList();
    }

    private readonly IReadOnlyList<EntityEntry> _entries;

    /// <summary>The entries of every conflicting entity, as on <see cref="DbUpdateException.Entries" />.</summary>
    public override IReadOnlyList<EntityEntry> Entries
        => _entries;

    /// <summary>Every conflicting entity of the failed SaveChanges.</summary>
    public IReadOnlyList<RecordConflict> Conflicts { get; }

    /// <summary>The CLR type of the first conflicting entity.</summary>
    public Type EntityType
        => Conflicts[0].EntityType;

    /// <summary>The primary key of the first conflicting entity, by property name.</summary>
    public IReadOnlyDictionary<string, object?> Key
        => Conflicts[0].Key;

    /// <summary>The version the save expected the row to have.</summary>
    public long? ExpectedVersion
        => Conflicts[0].ExpectedVersion;

    /// <summary>The version the row has now, or <see langword="null" /> when the row no longer exists (or was not read).</summary>
    public long? ActualVersion
        => Conflicts[0].ActualVersion;

    /// <summary>Whether the row was deleted by someone else.</summary>
    public bool WasDeleted
        => Conflicts[0].WasDeleted;

    private static string BuildMessage(IReadOnlyList<RecordConflict> conflicts)
    {
        ArgumentNullException.ThrowIfNull(conflicts);
        if (conflicts.Count == 0)
        {
            throw new ArgumentException("At least one conflict is required.", nameof(conflicts));
        }

        var message = string.Join(" ", conflicts.Select(c => c.Describe()));
        return message
            + " Nothing of this SaveChanges was written. Reload the entity and apply the change again, or catch"
            + " RecordModifiedException and use its Conflicts to merge.";
    }
}
