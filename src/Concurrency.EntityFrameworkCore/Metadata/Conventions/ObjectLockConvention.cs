using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;

namespace Concurrency.EntityFrameworkCore.Metadata.Conventions;

/// <summary>
///     When the model is finalized: makes classes implementing <see cref="ILockable" /> (and <see cref="ILeasedLockable" />)
///     lockable unless fluent configuration already did, and validates every object lock with a message naming the
///     entity, the property and the fix.
/// </summary>
internal sealed class ObjectLockConvention : IModelFinalizingConvention
{
    public void ProcessModelFinalizing(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes())
        {
            var clrType = entityType.ClrType;
            if (!typeof(ILockable).IsAssignableFrom(clrType)
                || (entityType.BaseType is { } baseType && typeof(ILockable).IsAssignableFrom(baseType.ClrType))
                || HasLockInHierarchy(entityType))
            {
                continue;
            }

            Apply(entityType, ConcurrencyAnnotationNames.ObjectLock, nameof(ILockable.IsLocked));
            if (typeof(ILeasedLockable).IsAssignableFrom(clrType))
            {
                Apply(entityType, ConcurrencyAnnotationNames.LockedBy, nameof(ILeasedLockable.LockedBy));
                Apply(entityType, ConcurrencyAnnotationNames.LockedAt, nameof(ILeasedLockable.LockedAt));
                Apply(entityType, ConcurrencyAnnotationNames.LockExpiresAt, nameof(ILeasedLockable.LockExpiresAt));
            }
        }

        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes())
        {
            if (entityType[ConcurrencyAnnotationNames.ObjectLock] is string)
            {
                Validate(entityType);
            }
        }

        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes())
        {
            if (entityType.FindAnnotation(ConcurrencyAnnotationNames.ObjectLockFrom) is not null)
            {
                ValidateDerived(entityType);
            }
        }
    }

    /// <summary>A derived lock needs a reference navigation to a principal that is lockable, or derives its own lock.</summary>
    private static void ValidateDerived(IConventionEntityType entityType)
    {
        var name = (string)entityType[ConcurrencyAnnotationNames.ObjectLockFrom]!;
        var navigation = entityType.FindNavigation(name);
        if (navigation is null || navigation.IsCollection || !navigation.IsOnDependent)
        {
            throw new InvalidOperationException(
                $"HasObjectLockFrom on '{entityType.DisplayName()}' names '{name}', which is not a reference navigation to a principal"
                + $" (the entity holding the foreign key must be '{entityType.DisplayName()}'). Pass the navigation to the entity whose lock it shares, such as s => s.Article.");
        }

        var principal = navigation.TargetEntityType;
        if (!IsLockable(principal))
        {
            throw new InvalidOperationException(
                $"'{entityType.DisplayName()}' derives its lock from '{principal.DisplayName()}' through '{name}', but '{principal.DisplayName()}'"
                + " has no object lock. Make it lockable (ILockable or HasObjectLock), or derive its lock from its own principal with HasObjectLockFrom.");
        }

        static bool IsLockable(IConventionEntityType type)
        {
            for (IConventionEntityType? current = type; current is not null; current = current.BaseType)
            {
                if (current[ConcurrencyAnnotationNames.ObjectLock] is string || current[ConcurrencyAnnotationNames.ObjectLockFrom] is string)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static bool HasLockInHierarchy(IConventionEntityType entityType)
    {
        for (IConventionEntityType? type = entityType; type is not null; type = type.BaseType)
        {
            if (type[ConcurrencyAnnotationNames.ObjectLock] is not null)
            {
                return true;
            }
        }

        return false;
    }

    private static void Apply(IConventionEntityType entityType, string annotation, string propertyName)
    {
        if (entityType.FindProperty(propertyName) is null)
        {
            var iface = annotation == ConcurrencyAnnotationNames.ObjectLock ? nameof(ILockable) : nameof(ILeasedLockable);
            throw new InvalidOperationException(
                $"'{entityType.DisplayName()}' implements {iface}, but has no mapped property '{propertyName}'. Declare it as a "
                + $"public property with a setter (not an explicit interface implementation), or configure the lock with HasObjectLock.");
        }

        entityType.Builder.HasAnnotation(annotation, propertyName);
    }

    private static void Validate(IConventionEntityType entityType)
    {
        var name = entityType.DisplayName();
        var isLocked = Require(entityType, ConcurrencyAnnotationNames.ObjectLock, typeof(bool), "bool")!;
        VersionFieldGuard.Arm(isLocked);
        if (entityType.FindPrimaryKey() is null)
        {
            throw new InvalidOperationException($"'{name}' has an object lock but no primary key. Locks are taken per row: configure a key.");
        }

        foreach (var (annotation, type, typeName) in new[]
                 {
                     (ConcurrencyAnnotationNames.LockedBy, typeof(string), "string"),
                     (ConcurrencyAnnotationNames.LockedAt, typeof(DateTimeOffset?), "DateTimeOffset?"),
                     (ConcurrencyAnnotationNames.LockExpiresAt, typeof(DateTimeOffset?), "DateTimeOffset?"),
                 })
        {
            if (Require(entityType, annotation, type, typeName) is { } property && property.DeclaringType != isLocked.DeclaringType)
            {
                throw new InvalidOperationException(
                    $"'{name}.{property.Name}' and the lock property '{isLocked.Name}' are declared on different entity types. "
                    + "Declare the lock and lease properties on the same class, so they live in one table.");
            }
        }
    }

    private static IConventionProperty? Require(IConventionEntityType entityType, string annotation, Type type, string typeName)
    {
        if (entityType[annotation] is not string propertyName)
        {
            return null;
        }

        var property = entityType.FindProperty(propertyName)
            ?? throw new InvalidOperationException(
                $"'{entityType.DisplayName()}' has no property '{propertyName}' for its object lock. Check the name given to HasObjectLock.");
        var clrType = property.ClrType;
        var accepted = clrType == type;
        if (!accepted)
        {
            throw new InvalidOperationException(
                $"'{entityType.DisplayName()}.{property.Name}' is of type '{clrType.Name}', but an object lock needs {typeName} here. Change the property's type.");
        }

        if (property.GetValueConverter() is not null)
        {
            throw new InvalidOperationException(
                $"'{entityType.DisplayName()}.{property.Name}' has a value converter; object-lock properties are read and written "
                + "as plain columns. Remove the converter.");
        }

        return property;
    }
}
