using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>
///     A lock derived from a principal (<c>HasObjectLockFrom(s =&gt; s.Article)</c>): the entity counts as locked whenever
///     the principal it references is locked, itself or through its own principal in turn. Computed once per model and
///     cached as a runtime annotation.
/// </summary>
internal sealed class DerivedLockMetadata
{
    /// <summary>How many principals a chain may have before it is taken for a cycle in the data.</summary>
    public const int MaxDepth = 32;

    private DerivedLockMetadata(IEntityType entityType, INavigation navigation)
    {
        EntityType = entityType;
        Navigation = navigation;
        ForeignKey = navigation.ForeignKey;
        Principal = navigation.TargetEntityType;
        PrincipalKey = ForeignKey.PrincipalKey.Properties.ToArray();
        PrincipalTable = StoreObjectIdentifier.Create(Principal, StoreObjectType.Table)
            ?? throw new InvalidOperationException($"'{Principal.DisplayName()}' is not mapped to a table, so locks cannot be derived from it.");
        PrincipalLock = ObjectLockMetadata.Find(Principal);
    }

    public IEntityType EntityType { get; }

    public INavigation Navigation { get; }

    public IForeignKey ForeignKey { get; }

    /// <summary>The referenced entity type, whose lock this entity shares.</summary>
    public IEntityType Principal { get; }

    /// <summary>The principal's key properties the foreign key references.</summary>
    public IProperty[] PrincipalKey { get; }

    public StoreObjectIdentifier PrincipalTable { get; }

    /// <summary>The principal's own lock, if it has one.</summary>
    public ObjectLockMetadata? PrincipalLock { get; }

    /// <summary>The principal's derived lock, if its lock comes from its own principal (a chain).</summary>
    public DerivedLockMetadata? PrincipalDerived
        => Find(Principal);

    /// <summary>Returns the cached metadata of <paramref name="entityType" />, or null when its lock is not derived.</summary>
    public static DerivedLockMetadata? Find(IEntityType entityType)
        => entityType.GetOrAddRuntimeAnnotationValue(
                ConcurrencyAnnotationNames.RuntimeDerivedLock,
                static et => new Holder(Create(et!)),
                entityType)
            .Value;

    /// <summary>
    ///     The principal keys an entry's save must check: the one it references now and, when a modification moves it,
    ///     the one it referenced before (leaving a locked principal is a change of it too). Null foreign keys reference nothing.
    /// </summary>
    public IEnumerable<object?[]> ReferencedKeys(EntityEntry entry)
    {
        var current = Values(entry, original: entry.State == EntityState.Deleted);
        if (current is not null)
        {
            yield return current;
        }

        if (entry.State == EntityState.Modified && Values(entry, original: true) is { } before
            && (current is null || !before.SequenceEqual(current)))
        {
            yield return before;
        }
    }

    public string DescribePrincipal(object?[] key)
        => KeyDescription.Describe(Principal, PrincipalKey, p => key[Array.IndexOf(PrincipalKey, p)]);

    private object?[]? Values(EntityEntry entry, bool original)
    {
        var values = new object?[ForeignKey.Properties.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var property = entry.Property(ForeignKey.Properties[i]);
            values[i] = original ? property.OriginalValue : property.CurrentValue;
            if (values[i] is null)
            {
                return null;
            }
        }

        return values;
    }

    private static DerivedLockMetadata? Create(IEntityType entityType)
    {
        for (var type = entityType; type is not null; type = type.BaseType)
        {
            if (type[ConcurrencyAnnotationNames.ObjectLockFrom] is string name && entityType.FindNavigation(name) is { } navigation)
            {
                return new DerivedLockMetadata(entityType, navigation);
            }
        }

        return null;
    }

    private sealed record Holder(DerivedLockMetadata? Value);
}
