using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>The three-way merge of <see cref="RecordConflict.Merge" />: one value per property, decided before anything is written.</summary>
internal static class ThreeWayMerge
{
    /// <summary>
    ///     Per property: the key as proposed, the version as in the database; otherwise the client's value when it wins or
    ///     only it changed the property, the database's when only the other writer did, and <paramref name="resolve" />'s
    ///     answer when both changed it to different values.
    /// </summary>
    public static object?[] Decide(
        IReadOnlyList<IProperty> properties,
        IProperty versionProperty,
        PropertyValues originalValues,
        PropertyValues proposedValues,
        PropertyValues database,
        Func<PropertyConflict, object?> resolve,
        bool clientWins)
    {
        var merged = new object?[properties.Count];
        for (var i = 0; i < properties.Count; i++)
        {
            var property = properties[i];
            var proposed = proposedValues[property];
            var databaseValue = database[property];
            if (property.IsPrimaryKey() || property == versionProperty)
            {
                merged[i] = property.IsPrimaryKey() ? proposed : databaseValue;
                continue;
            }

            var original = originalValues[property];
            merged[i] = clientWins ? proposed
                : AreEqual(property, proposed, original) ? databaseValue
                : AreEqual(property, databaseValue, original) || AreEqual(property, proposed, databaseValue) ? proposed
                : resolve(new PropertyConflict(property, original, proposed, databaseValue));
        }

        return merged;
    }

    public static bool AreEqual(IProperty property, object? left, object? right)
        => property.GetValueComparer().Equals(left, right);
}
