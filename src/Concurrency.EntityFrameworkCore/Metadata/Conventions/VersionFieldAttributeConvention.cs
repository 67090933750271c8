using System.Reflection;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;

namespace Concurrency.EntityFrameworkCore.Metadata.Conventions;

/// <summary>
///     Reads <see cref="VersionFieldAttribute" /> and its derived attributes from entity properties and records them as
///     data-annotation configuration, so an explicit fluent call (<c>IsVersionField()</c> and friends) always wins.
/// </summary>
internal sealed class VersionFieldAttributeConvention : IPropertyAddedConvention
{
    public void ProcessPropertyAdded(IConventionPropertyBuilder propertyBuilder, IConventionContext<IConventionPropertyBuilder> context)
        => Apply(propertyBuilder);

    /// <summary>Records the attribute of the property's CLR member, if any. Shared with <c>UseVersioning()</c>.</summary>
    public static void Apply(IConventionPropertyBuilder propertyBuilder)
    {
        var member = (MemberInfo?)propertyBuilder.Metadata.PropertyInfo ?? propertyBuilder.Metadata.FieldInfo;
        if (member is null)
        {
            return;
        }

        var attributes = member.GetCustomAttributes<VersionFieldAttribute>(inherit: true).ToArray();
        if (attributes.Length == 0)
        {
            return;
        }

        if (attributes.Length > 1)
        {
            throw new InvalidOperationException(
                $"'{propertyBuilder.Metadata.DeclaringType.DisplayName()}.{propertyBuilder.Metadata.Name}' has more than one version"
                + " field attribute ([VersionField], [TriggerVersionField], [ConditionalVersionField]). Keep exactly one.");
        }

        var attribute = attributes[0];
        if (propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.VersionField, attribute.Kind.ToString(), fromDataAnnotation: true) is null)
        {
            return; // an explicit fluent configuration wins
        }

        if (attribute is ConditionalVersionFieldAttribute conditional)
        {
            propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.CheckFields, conditional.CheckFields, fromDataAnnotation: true);
            propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.IgnoreFields, conditional.IgnoreFields, fromDataAnnotation: true);
        }
    }
}
