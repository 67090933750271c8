using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>How error messages name an entity: its type and key, for example <c>Article(Id=5)</c>.</summary>
internal static class KeyDescription
{
    public static string Describe(IEntityType entityType, IProperty[] keyProperties, Func<IProperty, object?> valueOf)
    {
        var builder = new StringBuilder(entityType.DisplayName());
        builder.Append('(');
        for (var i = 0; i < keyProperties.Length; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(keyProperties[i].Name).Append('=').Append(Convert.ToString(valueOf(keyProperties[i]), CultureInfo.InvariantCulture));
        }

        return builder.Append(')').ToString();
    }
}
