using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>Reads and validates version-field annotations. One place for the rules, shared by conventions and fluent API.</summary>
internal static class VersionFieldConfiguration
{
    public static VersionFieldKind? GetKind(IReadOnlyAnnotatable property)
        => property.FindAnnotation(ConcurrencyAnnotationNames.VersionField)?.Value is string name
            && Enum.TryParse<VersionFieldKind>(name, out var kind)
                ? kind
                : null;

    public static string[]? GetCheckFields(IReadOnlyAnnotatable property)
        => property.FindAnnotation(ConcurrencyAnnotationNames.CheckFields)?.Value as string[];

    public static string[]? GetIgnoreFields(IReadOnlyAnnotatable property)
        => property.FindAnnotation(ConcurrencyAnnotationNames.IgnoreFields)?.Value as string[];

    public static bool IsSupportedClrType(Type type)
        => type == typeof(int) || type == typeof(long);

    /// <summary>The properties whose change bumps a conditional version: CheckFields, or all mapped minus IgnoreFields.</summary>
    public static IEnumerable<IReadOnlyProperty> ResolveWatchedProperties(IReadOnlyEntityType entityType, IReadOnlyProperty versionProperty)
    {
        var check = GetCheckFields(versionProperty);
        var ignore = GetIgnoreFields(versionProperty);
        if (check is { Length: > 0 })
        {
            return check.Select(name => entityType.FindProperty(name)!).Where(p => p is not null);
        }

        return entityType.GetProperties()
            .Where(p => p != versionProperty && !p.IsPrimaryKey() && (ignore is null || !ignore.Contains(p.Name)));
    }

    public static IEnumerable<IProperty> ResolveWatchedProperties(IEntityType entityType, IProperty versionProperty)
        => ResolveWatchedProperties((IReadOnlyEntityType)entityType, versionProperty).Cast<IProperty>();

    /// <summary>
    ///     Validates every version field of the model and throws one clear error naming the entity, the property and the
    ///     fix. Runs when the model is finalized, before any query or save.
    /// </summary>
    public static void Validate(IReadOnlyModel model, bool triggersSupported, string? providerName)
    {
        foreach (var entityType in model.GetEntityTypes())
        {
            IReadOnlyProperty? found = null;
            foreach (var property in entityType.GetProperties())
            {
                var kind = GetKind(property);
                if (kind is null)
                {
                    continue;
                }

                var where = $"'{entityType.DisplayName()}.{property.Name}'";
                if (found is not null)
                {
                    throw new InvalidOperationException(
                        $"The entity type '{entityType.DisplayName()}' has two version fields, '{found.Name}' and '{property.Name}'"
                        + " (including those inherited from base types). An entity can have only one version field: remove the"
                        + " attribute or fluent call from one of them.");
                }

                found = property;
                if (!IsSupportedClrType(property.ClrType))
                {
                    throw new InvalidOperationException(
                        $"The version field {where} is of type '{property.ClrType.Name}', but version fields must be 'int' or 'long'"
                        + " (not nullable). Change the property type to int or long, or use EF Core's own IsConcurrencyToken() for"
                        + " other types.");
                }

                if ((property.GetValueConverter()?.ProviderClrType ?? property.GetProviderClrType()) is { } providerType
                    && providerType != property.ClrType)
                {
                    throw new InvalidOperationException(
                        $"The version field {where} has a value converter (to '{providerType.Name}'), but versions are"
                        + " compared and incremented in SQL (version = version + 1), which needs an integer column. Remove the"
                        + " HasConversion(...) call (or the converter convention) from this property.");
                }

                var check = GetCheckFields(property);
                var ignore = GetIgnoreFields(property);
                if (kind != VersionFieldKind.Conditional && (check is not null || ignore is not null))
                {
                    throw new InvalidOperationException(
                        $"The version field {where} is a {kind} version field but has CheckFields or IgnoreFields; those apply only"
                        + " to conditional version fields. Use [ConditionalVersionField] or IsConditionalVersionField().");
                }

                if (check is not null && ignore is not null)
                {
                    throw new InvalidOperationException(
                        $"The conditional version field {where} sets both CheckFields and IgnoreFields. Set only one: CheckFields"
                        + " to watch just those properties, or IgnoreFields to watch all others.");
                }

                foreach (var name in (check ?? []).Concat(ignore ?? []))
                {
                    var watched = entityType.FindProperty(name);
                    if (watched is null)
                    {
                        throw new InvalidOperationException(
                            $"The conditional version field {where} names '{name}' in {(check is not null ? "CheckFields" : "IgnoreFields")},"
                            + $" but '{entityType.DisplayName()}' has no mapped property of that name. Use the name of a mapped"
                            + $" property (for example nameof({entityType.ClrType.Name}.SomeProperty)).");
                    }

                    if (watched == property)
                    {
                        throw new InvalidOperationException(
                            $"The conditional version field {where} lists itself in CheckFields or IgnoreFields. Remove '{name}' from the list.");
                    }
                }

                if (kind == VersionFieldKind.Trigger && !triggersSupported)
                {
                    throw new InvalidOperationException(
                        $"The version field {where} is a trigger version field, but the database provider '{providerName ?? "(none)"}'"
                        + " has no trigger support in Concurrency.EntityFrameworkCore (supported: PostgreSQL through Npgsql, and"
                        + " SQLite). Use [VersionField] instead, which works on any relational provider.");
                }
            }
        }
    }
}
