using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     The lock name of an entity: <c>entity:</c>, the root entity type's name (so <c>Article 5</c> and <c>Comment 5</c>
///     differ, and a derived type shares its base's lock), then the key's (or the chosen property's) names and values,
///     e.g. <c>entity:Blog.Article(Id=5)</c>, <c>entity:Blog.Line(OrderId=1, No=2)</c>, <c>entity:Blog.Article(Slug="a-b")</c>.
///     Strings are quoted, so the text of each value is unambiguous.
/// </summary>
internal static class EntityLockName
{
    public static string For(EntityEntry entry, LambdaExpression? by)
    {
        var entityType = entry.Metadata;
        IReadOnlyList<IProperty> properties = by is null
            ? entityType.FindPrimaryKey()?.Properties
                ?? throw new InvalidOperationException(
                    $"The entity type '{entityType.DisplayName()}' has no key to lock by. Pass by: e => e.SomeProperty, or lock a name.")
            : [ByProperty(entityType, by)];

        var name = new StringBuilder("entity:").Append(entityType.GetRootType().Name).Append('(');
        for (var i = 0; i < properties.Count; i++)
        {
            if (i > 0)
            {
                name.Append(", ");
            }

            name.Append(properties[i].Name).Append('=');
            Format(name, entry.Property(properties[i].Name).CurrentValue);
        }

        return name.Append(')').ToString();
    }

    private static IProperty ByProperty(IEntityType entityType, LambdaExpression by)
    {
        var body = by.Body;
        while (body is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked } convert)
        {
            body = convert.Operand;
        }

        return body is MemberExpression member && member.Expression == by.Parameters[0]
            && entityType.FindProperty(member.Member.Name) is { } property
                ? property
                : throw new ArgumentException(
                    $"by must name one mapped property of '{entityType.DisplayName()}', for example by: e => e.Slug; got '{by}'.",
                    nameof(by));
    }

    private static void Format(StringBuilder name, object? value)
    {
        switch (value)
        {
            case null:
                name.Append("null");
                break;
            case string text:
                name.Append('"').Append(text.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
                break;
            case byte[] bytes:
                name.Append("0x").Append(Convert.ToHexString(bytes));
                break;
            case DateTime dateTime:
                name.Append(dateTime.ToString("O", CultureInfo.InvariantCulture));
                break;
            case DateTimeOffset dateTimeOffset:
                name.Append(dateTimeOffset.ToString("O", CultureInfo.InvariantCulture));
                break;
            case IFormattable formattable:
                name.Append(formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                name.Append(value);
                break;
        }
    }
}
