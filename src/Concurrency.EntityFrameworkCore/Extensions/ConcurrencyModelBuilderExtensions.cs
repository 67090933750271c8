using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Metadata.Conventions;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Model-building entry points of Concurrency.</summary>
public static class ConcurrencyModelBuilderExtensions
{
    /// <summary>
    ///     Applies the version-field conventions to the model: every property marked with <see cref="VersionFieldAttribute" />,
    ///     <see cref="TriggerVersionFieldAttribute" /> or <see cref="ConditionalVersionFieldAttribute" /> becomes a version
    ///     field, unless fluent configuration says otherwise. Call it in <c>OnModelCreating</c>; the context must also be
    ///     configured with <c>UseConcurrency()</c>, which is checked before the first entity is tracked.
    /// </summary>
    /// <param name="modelBuilder">The model builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static ModelBuilder UseVersioning(this ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        foreach (var entityType in modelBuilder.Model.GetEntityTypes())
        {
            if (typeof(ILockable).IsAssignableFrom(entityType.ClrType) && entityType.FindDeclaredProperty(nameof(ILockable.IsLocked)) is { } isLocked)
            {
                VersionFieldGuard.InstallOnLock(isLocked);
            }

            foreach (var property in entityType.GetDeclaredProperties())
            {
                var builder = ((IConventionProperty)property).Builder;
                VersionFieldAttributeConvention.Apply(builder);
                if (VersionFieldConfiguration.GetKind(property) is not null)
                {
                    VersionFieldGuard.Install(property);
                }
            }
        }

        return modelBuilder;
    }
}
