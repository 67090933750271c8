using Microsoft.EntityFrameworkCore;
using System.Data.Common;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>What a successful save leaves to remember about the versions it wrote.</summary>
internal static class SavedVersions
{
    /// <summary>
    ///     Remembers bumps EF did not accept (<c>SaveChanges(false)</c>: the entity still shows the bumped version as a
    ///     pending change, and saving it again must still expect the old one), and versions written inside the
    ///     application's transaction, which a rollback must restore.
    /// </summary>
    public static void Remember(SaveSession session, DbTransaction? transaction)
    {
        foreach (var change in session.Changes.Items)
        {
            var property = change.Property;
            if (property.Metadata == change.Metadata.Property && property.EntityEntry.State == EntityState.Modified)
            {
                session.Loaded.RecordUnacceptedBump(
                    property.EntityEntry.Entity,
                    change.Metadata.ToLong(property.OriginalValue),
                    change.Metadata.ToLong(property.CurrentValue));
            }
        }

        if (transaction is not null)
        {
            session.Transactions.Saved(transaction, session.Changes.Items);
        }
    }
}
