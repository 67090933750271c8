using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>
///     Everything the save path and LockAsync need about one entity type's object lock, computed once per model and
///     cached as a runtime annotation.
/// </summary>
internal sealed class ObjectLockMetadata
{
    private ObjectLockMetadata(IEntityType entityType, IProperty isLocked, IProperty? lockedBy, IProperty? lockedAt, IProperty? lockExpiresAt)
    {
        EntityType = entityType;
        IsLocked = isLocked;
        LockedBy = lockedBy;
        LockedAt = lockedAt;
        LockExpiresAt = lockExpiresAt;
        KeyProperties = entityType.FindPrimaryKey()?.Properties.ToArray() ?? [];
        Properties = new[] { isLocked, lockedBy, lockedAt, lockExpiresAt }.OfType<IProperty>().ToArray();
        var declaring = (IEntityType)isLocked.DeclaringType;
        Table = StoreObjectIdentifier.Create(declaring, StoreObjectType.Table)
            ?? throw new InvalidOperationException($"'{declaring.DisplayName()}' is not mapped to a table, so it cannot have an object lock.");
    }

    public IEntityType EntityType { get; }

    public IProperty IsLocked { get; }

    public IProperty? LockedBy { get; }

    public IProperty? LockedAt { get; }

    public IProperty? LockExpiresAt { get; }

    /// <summary>The lock property and the lease properties that are configured, in that order.</summary>
    public IProperty[] Properties { get; }

    public IProperty[] KeyProperties { get; }

    /// <summary>The table holding the lock columns.</summary>
    public StoreObjectIdentifier Table { get; }

    /// <summary>Returns the cached metadata of <paramref name="entityType" />, or null when it is not lockable.</summary>
    public static ObjectLockMetadata? Find(IEntityType entityType)
        => entityType.GetOrAddRuntimeAnnotationValue(
                ConcurrencyAnnotationNames.RuntimeObjectLock,
                static et => new Holder(Create(et!)),
                entityType)
            .Value;

    /// <summary>Returns the metadata of the entry's entity type, or throws a message naming the entity and the fix.</summary>
    public static ObjectLockMetadata Require(EntityEntry entry)
        => Find(entry.Metadata)
            ?? throw new InvalidOperationException(
                $"'{entry.Metadata.DisplayName()}' has no object lock. Implement ILockable (a bool IsLocked property) on the "
                + "class, or configure one with modelBuilder.Entity<T>().HasObjectLock(e => e.IsLocked).");

    public IReadOnlyDictionary<string, object?> KeyOf(EntityEntry entry)
    {
        var key = new Dictionary<string, object?>(KeyProperties.Length);
        foreach (var property in KeyProperties)
        {
            key[property.Name] = entry.Property(property).OriginalValue;
        }

        return key;
    }

    public string Describe(EntityEntry entry)
        => KeyDescription.Describe(EntityType, KeyProperties, p => entry.Property(p).OriginalValue);

    /// <summary>The entry's lock columns as this client has them (its original values: what it loaded).</summary>
    public ObjectLockState LoadedState(EntityEntry entry)
        => new(
            (bool)entry.Property(IsLocked).OriginalValue!,
            LockedBy is null ? null : (string?)entry.Property(LockedBy).OriginalValue,
            LockedAt is null ? null : (DateTimeOffset?)entry.Property(LockedAt).OriginalValue,
            LockExpiresAt is null ? null : (DateTimeOffset?)entry.Property(LockExpiresAt).OriginalValue);

    private static ObjectLockMetadata? Create(IEntityType entityType)
    {
        for (var type = entityType; type is not null; type = type.BaseType)
        {
            if (type[ConcurrencyAnnotationNames.ObjectLock] is string isLocked)
            {
                return new ObjectLockMetadata(
                    entityType,
                    entityType.GetProperty(isLocked),
                    Property(type, ConcurrencyAnnotationNames.LockedBy),
                    Property(type, ConcurrencyAnnotationNames.LockedAt),
                    Property(type, ConcurrencyAnnotationNames.LockExpiresAt));

                IProperty? Property(IEntityType declaring, string annotation)
                    => declaring[annotation] is string name ? entityType.GetProperty(name) : null;
            }
        }

        return null;
    }

    private sealed record Holder(ObjectLockMetadata? Value);
}
