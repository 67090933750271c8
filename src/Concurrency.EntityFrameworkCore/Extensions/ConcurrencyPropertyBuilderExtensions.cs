using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Fluent configuration of version fields. Fluent calls win over attributes.</summary>
public static class ConcurrencyPropertyBuilderExtensions
{
    /// <summary>
    ///     Makes this <see cref="int" /> or <see cref="long" /> property the entity's version field, incremented by one in
    ///     every UPDATE EF Core sends and checked on every UPDATE and DELETE. The fluent form of <see cref="VersionFieldAttribute" />.
    /// </summary>
    /// <param name="propertyBuilder">The property builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static PropertyBuilder IsVersionField(this PropertyBuilder propertyBuilder)
        => Configure(propertyBuilder, VersionFieldKind.Integer, null, null);

    /// <inheritdoc cref="IsVersionField(PropertyBuilder)" />
    public static PropertyBuilder<TProperty> IsVersionField<TProperty>(this PropertyBuilder<TProperty> propertyBuilder)
        => (PropertyBuilder<TProperty>)IsVersionField((PropertyBuilder)propertyBuilder);

    /// <summary>
    ///     Makes this <see cref="int" /> or <see cref="long" /> property a version field incremented by a database trigger on
    ///     every UPDATE from any client, raw SQL included. The fluent form of <see cref="TriggerVersionFieldAttribute" />.
    /// </summary>
    /// <param name="propertyBuilder">The property builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static PropertyBuilder IsTriggerVersionField(this PropertyBuilder propertyBuilder)
        => Configure(propertyBuilder, VersionFieldKind.Trigger, null, null);

    /// <inheritdoc cref="IsTriggerVersionField(PropertyBuilder)" />
    public static PropertyBuilder<TProperty> IsTriggerVersionField<TProperty>(this PropertyBuilder<TProperty> propertyBuilder)
        => (PropertyBuilder<TProperty>)IsTriggerVersionField((PropertyBuilder)propertyBuilder);

    /// <summary>
    ///     Makes this <see cref="int" /> or <see cref="long" /> property a version field that is incremented only when a
    ///     watched property changes, and checked on every update. The fluent form of <see cref="ConditionalVersionFieldAttribute" />.
    /// </summary>
    /// <param name="propertyBuilder">The property builder.</param>
    /// <param name="checkFields">Watch only these properties. Defaults to none, meaning all mapped properties.</param>
    /// <param name="ignoreFields">Watch all mapped properties except these. Defaults to none. Set at most one of the two lists.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static PropertyBuilder IsConditionalVersionField(
        this PropertyBuilder propertyBuilder,
        string[]? checkFields = null,
        string[]? ignoreFields = null)
        => Configure(propertyBuilder, VersionFieldKind.Conditional, checkFields, ignoreFields);

    /// <inheritdoc cref="IsConditionalVersionField(PropertyBuilder, string[], string[])" />
    public static PropertyBuilder<TProperty> IsConditionalVersionField<TProperty>(
        this PropertyBuilder<TProperty> propertyBuilder,
        string[]? checkFields = null,
        string[]? ignoreFields = null)
        => (PropertyBuilder<TProperty>)IsConditionalVersionField((PropertyBuilder)propertyBuilder, checkFields, ignoreFields);

    internal static PropertyBuilder Configure(PropertyBuilder propertyBuilder, VersionFieldKind kind, string[]? checkFields, string[]? ignoreFields)
    {
        ArgumentNullException.ThrowIfNull(propertyBuilder);
        if (checkFields is not null && ignoreFields is not null)
        {
            throw new ArgumentException(
                $"'{propertyBuilder.Metadata.DeclaringType.DisplayName()}.{propertyBuilder.Metadata.Name}': pass either checkFields or"
                + " ignoreFields to IsConditionalVersionField, not both.",
                nameof(ignoreFields));
        }

        propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.VersionField, kind.ToString());
        propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.CheckFields, checkFields);
        propertyBuilder.HasAnnotation(ConcurrencyAnnotationNames.IgnoreFields, ignoreFields);
        VersionFieldGuard.Install(propertyBuilder.Metadata);
        return propertyBuilder;
    }
}
