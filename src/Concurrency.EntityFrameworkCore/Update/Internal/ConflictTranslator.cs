using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Turns EF's concurrency exception into a <see cref="RecordModifiedException" /> that says which row, which
///     versions, and whether it was deleted. Conflicts on entities without a version field are left to EF.
/// </summary>
internal static class ConflictTranslator
{
    /// <summary>
    ///     Called by EF's update pipeline when a statement affected no row, inside the save's transaction and before it is
    ///     rolled back (EF calls no SaveChangesFailed interceptor for concurrency exceptions). Reads the actual versions
    ///     with one query on the same connection (unless <paramref name="readActualVersion" /> is off), restores the
    ///     version values this save changed, and throws the translated exception.
    /// </summary>
    public static async ValueTask ThrowAsync(
        ConcurrencyExceptionEventData eventData,
        SaveSession session,
        bool readActualVersion,
        bool async,
        CancellationToken cancellationToken)
    {
        RecordModifiedException? conflict = null;
        try
        {
            var versioned = new List<(EntityEntry Entry, VersionFieldMetadata Metadata)>();
            foreach (var entry in eventData.Entries)
            {
                if (VersionFieldMetadata.Find(entry.Metadata) is { } metadata)
                {
                    versioned.Add((entry, metadata));
                }
            }

            if (versioned.Count == 0)
            {
                return;
            }

            long?[]? actual = null;
            if (readActualVersion && eventData is RelationalConcurrencyExceptionEventData { Context: { } context } relational)
            {
                // The batch's reader is still open; close it so the connection can run the version query.
                if (async)
                {
                    await relational.DataReader.CloseAsync().ConfigureAwait(false);
                }
                else
                {
                    relational.DataReader.Close();
                }

                // Through EF's command pipeline on the context's IRelationalConnection: the connection EF's batch ran on
                // (relational.Connection), whose CurrentTransaction is the one the batch ran in (relational.Command.Transaction):
                // the application's, or the one EF began for this save (BatchExecutor begins it through IRelationalConnection).
                actual = await VersionQuery.ReadAsync(
                        context,
                        CommandSource.SaveChanges,
                        versioned,
                        lockClause: string.Empty,
                        async,
                        cancellationToken)
                    .ConfigureAwait(false);
            }

            var conflicts = new List<RecordConflict>(versioned.Count);
            for (var i = 0; i < versioned.Count; i++)
            {
                var (entry, metadata) = versioned[i];
                var key = new Dictionary<string, object?>(metadata.KeyProperties.Length);
                foreach (var keyProperty in metadata.KeyProperties)
                {
                    key[keyProperty.Name] = entry.Property(keyProperty).OriginalValue;
                }

                conflicts.Add(
                    new RecordConflict(
                        entry,
                        metadata.Property,
                        metadata.DescribeKey(p => key[p.Name]),
                        key,
                        expectedVersion: metadata.ToLong(entry.Property(metadata.Property).OriginalValue),
                        actualVersion: actual?[i],
                        wasDeleted: actual is not null && actual[i] is null,
                        actualVersionRead: actual is not null));
            }

            conflict = new RecordModifiedException(conflicts, eventData.Exception);
        }
        finally
        {
            session.Changes.Revert();
        }

        // After the revert, so the copies show the versions the application had, not the ones this save tried.
        foreach (var item in conflict.Conflicts)
        {
            item.CaptureValues();
        }

        throw conflict;
    }
}
