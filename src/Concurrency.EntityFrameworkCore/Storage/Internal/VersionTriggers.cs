using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>Where the model says version triggers must exist: one per trigger version column.</summary>
internal static class VersionTriggers
{
    public static IReadOnlyList<VersionTriggerInfo> FromModel(IModel model)
    {
        var result = new List<VersionTriggerInfo>();
        foreach (var metadata in VersionedModel.Get(model).TriggerFields)
        {
            var table = StoreObjectIdentifier.Create(metadata.EntityType, StoreObjectType.Table);
            if (table is null)
            {
                continue;
            }

            var column = metadata.Property.GetColumnName(table.Value) ?? metadata.Property.Name;
            result.Add(
                new VersionTriggerInfo(
                    metadata.EntityType.DisplayName(),
                    metadata.Property.Name,
                    table.Value.Name,
                    table.Value.Schema,
                    column,
                    DatabaseDialect.TriggerName(table.Value.Name, column)));
        }

        return result;
    }
}
