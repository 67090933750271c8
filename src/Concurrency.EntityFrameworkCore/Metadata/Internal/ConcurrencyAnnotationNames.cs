namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>Names of the model annotations this library writes. Stable: they end up in migration snapshots.</summary>
internal static class ConcurrencyAnnotationNames
{
    public const string Prefix = "Concurrency:";

    /// <summary>On a property: the <see cref="VersionFieldKind" /> name of the version field.</summary>
    public const string VersionField = Prefix + "VersionField";

    /// <summary>On a conditional version property: the watched property names (string[]).</summary>
    public const string CheckFields = Prefix + "CheckFields";

    /// <summary>On a conditional version property: the ignored property names (string[]).</summary>
    public const string IgnoreFields = Prefix + "IgnoreFields";

    /// <summary>On an entity type: the name of its object-lock (bool) property.</summary>
    public const string ObjectLock = Prefix + "ObjectLock";

    /// <summary>On a lockable entity type: the name of the property holding the lock's owner.</summary>
    public const string LockedBy = Prefix + "LockedBy";

    /// <summary>On a lockable entity type: the name of the property holding when the lock was taken.</summary>
    public const string LockedAt = Prefix + "LockedAt";

    /// <summary>On a lockable entity type: the name of the property holding when the lock's lease runs out.</summary>
    public const string LockExpiresAt = Prefix + "LockExpiresAt";

    /// <summary>Runtime annotation on an entity type: its cached <see cref="ObjectLockMetadata" />.</summary>
    public const string ObjectLockFrom = Prefix + "ObjectLockFrom";
    public const string RuntimeObjectLock = Prefix + "ObjectLockMetadata";
    public const string RuntimeDerivedLock = Prefix + "DerivedLockMetadata";

    /// <summary>Runtime annotation on an entity type: its cached <see cref="VersionFieldMetadata" />.</summary>
    public const string RuntimeMetadata = Prefix + "Metadata";

    /// <summary>Runtime annotation on the model: its cached <see cref="VersionedModel" />.</summary>
    public const string RuntimeModel = Prefix + "Model";
}
