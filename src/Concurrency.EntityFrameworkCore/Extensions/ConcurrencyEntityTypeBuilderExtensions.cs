using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Adds version fields to entity types you cannot change.</summary>
public static class ConcurrencyEntityTypeBuilderExtensions
{
    /// <summary>
    ///     Adds a shadow <see cref="long" /> version field (a column with no CLR property) to an entity type whose class you
    ///     cannot change, such as one from a library. Read it with <c>context.Entry(entity).GetVersion()</c>.
    /// </summary>
    /// <param name="entityTypeBuilder">The entity type builder.</param>
    /// <param name="name">The name of the shadow property and, by default, its column. Defaults to <c>"Version"</c>.</param>
    /// <param name="kind">How the version is incremented. Defaults to <see cref="VersionFieldKind.Integer" />.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static EntityTypeBuilder HasVersionField(
        this EntityTypeBuilder entityTypeBuilder,
        string name = "Version",
        VersionFieldKind kind = VersionFieldKind.Integer)
    {
        ArgumentNullException.ThrowIfNull(entityTypeBuilder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var existing = entityTypeBuilder.Metadata.FindProperty(name);
        if (existing is not null && existing.ClrType != typeof(long) && existing.ClrType != typeof(int))
        {
            throw new InvalidOperationException(
                $"'{entityTypeBuilder.Metadata.DisplayName()}' already has a property '{name}' of type '{existing.ClrType.Name}';"
                + " HasVersionField needs an int or long property. Pass another name.");
        }

        var property = existing is null ? entityTypeBuilder.Property<long>(name) : entityTypeBuilder.Property(name);
        ConcurrencyPropertyBuilderExtensions.Configure(property, kind, null, null);
        return entityTypeBuilder;
    }

    /// <inheritdoc cref="HasVersionField(EntityTypeBuilder, string, VersionFieldKind)" />
    public static EntityTypeBuilder<TEntity> HasVersionField<TEntity>(
        this EntityTypeBuilder<TEntity> entityTypeBuilder,
        string name = "Version",
        VersionFieldKind kind = VersionFieldKind.Integer)
        where TEntity : class
        => (EntityTypeBuilder<TEntity>)HasVersionField((EntityTypeBuilder)entityTypeBuilder, name, kind);
}
