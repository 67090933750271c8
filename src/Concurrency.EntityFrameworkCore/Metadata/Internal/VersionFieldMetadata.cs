using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>
///     Everything the save path needs about one entity type's version field, computed once per model and cached as a
///     runtime annotation, so SaveChanges does no reflection or metadata walk per entity.
/// </summary>
internal sealed class VersionFieldMetadata
{
    private VersionFieldMetadata(IEntityType entityType, IProperty property, VersionFieldKind kind, IProperty[] watched)
    {
        EntityType = entityType;
        Property = property;
        Kind = kind;
        WatchedProperties = watched;
        IsInt32 = property.ClrType == typeof(int);
        OwnedChangesBump = kind == VersionFieldKind.Integer
            || (kind == VersionFieldKind.Conditional && VersionFieldConfiguration.GetCheckFields(property) is null);
        KeyProperties = entityType.FindPrimaryKey()?.Properties.ToArray() ?? [];
        ClrSetter = CreateSetter(property);
    }

    public IEntityType EntityType { get; }

    public IProperty Property { get; }

    public VersionFieldKind Kind { get; }

    /// <summary>For <see cref="VersionFieldKind.Conditional" />: the properties whose change bumps the version.</summary>
    public IProperty[] WatchedProperties { get; }

    public IProperty[] KeyProperties { get; }

    public bool IsInt32 { get; }

    /// <summary>
    ///     A compiled setter of the CLR version property or its field, built once per model; null for shadow properties
    ///     and properties that cannot be written directly.
    /// </summary>
    public Action<object, long>? ClrSetter { get; }

    /// <summary>
    ///     Whether a change to an owned entity stored in this entity's row bumps the version: always for integer versions,
    ///     for conditional ones unless CheckFields names the watched properties (owned properties are then unwatched).
    /// </summary>
    public bool OwnedChangesBump { get; }

    /// <summary>Returns the cached metadata of <paramref name="entityType" />, or null when it has no version field.</summary>
    public static VersionFieldMetadata? Find(IEntityType entityType)
        => entityType.GetOrAddRuntimeAnnotationValue(
                ConcurrencyAnnotationNames.RuntimeMetadata,
                static et => new Holder(Create(et!)),
                entityType)
            .Value;

    public long ToLong(object? value)
        => value switch
        {
            int i => i,
            long l => l,
            null => 0,
            _ => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        };

    /// <summary>
    ///     The version after <paramref name="version" />. At the largest value the property's type can hold, the save is
    ///     refused with a message naming the row and the fix, before anything is written: a version that wrapped around
    ///     (or, on SQLite, no longer fits the property) would check nothing.
    /// </summary>
    public long Next(EntityEntry entry, long version)
        => version < (IsInt32 ? int.MaxValue : long.MaxValue) ? version + 1 : throw AtMaximum(entry, version);

    // Separate, so the hot path allocates no closure for the message.
    private InvalidOperationException AtMaximum(EntityEntry entry, long version)
        => new(
            $"{DescribeKey(p => entry.Property(p).OriginalValue)}: the version field '{EntityType.DisplayName()}.{Property.Name}'"
            + $" has reached {version}, the largest value {(IsInt32 ? "an int" : "a long")} can hold, so it cannot be"
            + " incremented; the save was refused and nothing was written."
            + (IsInt32
                ? " Change the property to long (and the column to bigint with a migration), or reset the versions of such rows."
                : " Reset the version of that row with raw SQL while nobody edits it."));

    public object FromLong(long value)
        => IsInt32 ? (object)checked((int)value) : value;

    public string DescribeKey(Func<IProperty, object?> valueOf)
        => KeyDescription.Describe(EntityType, KeyProperties, valueOf);

    private static VersionFieldMetadata? Create(IEntityType entityType)
    {
        foreach (var property in entityType.GetProperties())
        {
            var kind = VersionFieldConfiguration.GetKind(property);
            if (kind is null)
            {
                continue;
            }

            var watched = kind == VersionFieldKind.Conditional
                ? VersionFieldConfiguration.ResolveWatchedProperties(entityType, property).ToArray()
                : [];
            return new VersionFieldMetadata(entityType, property, kind.Value, watched);
        }

        return null;
    }

    private static Action<object, long>? CreateSetter(IProperty property)
    {
        var member = property.PropertyInfo is { SetMethod: not null } propertyInfo ? propertyInfo : (MemberInfo?)property.FieldInfo;
        // Only for snapshot change tracking: that is what EF's DetectChanges (which runs right after SavingChanges)
        // compares. Entities that notify EF of changes are skipped by DetectChanges, so they go through PropertyEntry.
        if (property.IsShadowProperty() || property.IsIndexerProperty() || member is null || member.DeclaringType is null
            || (member is FieldInfo { IsInitOnly: true })
            || ((IEntityType)property.DeclaringType).GetChangeTrackingStrategy() != ChangeTrackingStrategy.Snapshot)
        {
            return null;
        }

        var instance = Expression.Parameter(typeof(object), "entity");
        var value = Expression.Parameter(typeof(long), "version");
        var target = Expression.MakeMemberAccess(Expression.Convert(instance, member.DeclaringType), member);
        var assigned = property.ClrType == typeof(long) ? (Expression)value : Expression.ConvertChecked(value, property.ClrType);
        return Expression.Lambda<Action<object, long>>(Expression.Assign(target, assigned), instance, value).Compile();
    }

    /// <summary>Wraps a possibly-null value so "no version field" is cached too.</summary>
    private sealed class Holder(VersionFieldMetadata? value)
    {
        public VersionFieldMetadata? Value { get; } = value;
    }
}

/// <summary>Per-model facts cached as a runtime annotation: whether any entity type is versioned at all.</summary>
internal sealed class VersionedModel
{
    private VersionedModel(bool hasVersionFields, IReadOnlyList<VersionFieldMetadata> triggerFields, bool hasSnapshotTracking, bool hasObjectLocks)
    {
        HasVersionFields = hasVersionFields;
        HasObjectLocks = hasObjectLocks;
        TriggerFields = triggerFields;
        HasSnapshotTracking = hasSnapshotTracking;
    }

    public bool HasVersionFields { get; }

    /// <summary>Whether any entity type is lockable (see <see cref="ObjectLockMetadata" />).</summary>
    public bool HasObjectLocks { get; }

    /// <summary>
    ///     Whether any entity type uses snapshot change tracking. When none does, EF never runs DetectChanges (the model
    ///     is marked to skip it), so nothing may wait for its <c>DetectedAllChanges</c> event.
    /// </summary>
    public bool HasSnapshotTracking { get; }

    /// <summary>Trigger version fields, one per table column (derived types sharing a table are listed once).</summary>
    public IReadOnlyList<VersionFieldMetadata> TriggerFields { get; }

    public static VersionedModel Get(IModel model)
        => model.GetOrAddRuntimeAnnotationValue(ConcurrencyAnnotationNames.RuntimeModel, static m => Create(m!), model);

    private static VersionedModel Create(IModel model)
    {
        var any = false;
        var snapshot = false;
        var locks = false;
        var triggers = new List<VersionFieldMetadata>();
        foreach (var entityType in model.GetEntityTypes())
        {
            snapshot |= entityType.GetChangeTrackingStrategy() == ChangeTrackingStrategy.Snapshot;
            locks |= ObjectLockMetadata.Find(entityType) is not null || DerivedLockMetadata.Find(entityType) is not null;
            var metadata = VersionFieldMetadata.Find(entityType);
            if (metadata is null)
            {
                continue;
            }

            any = true;
            if (metadata.Kind == VersionFieldKind.Trigger && metadata.Property.DeclaringType == entityType)
            {
                triggers.Add(metadata);
            }
        }

        return new VersionedModel(any, triggers, snapshot, locks);
    }
}
