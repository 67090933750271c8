using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Configures object locks for entity types that do not implement <see cref="ILockable" />, or under other names.</summary>
public static class ConcurrencyObjectLockBuilderExtensions
{
    /// <summary>
    ///     Makes the entity type lockable: while <paramref name="isLocked" /> is <see langword="true" /> in the database,
    ///     SaveChanges refuses to update or delete it (see <see cref="ObjectLockedException" />). Optionally records who
    ///     holds the lock, since when and until when (a lease). Overrides what <see cref="ILockable" /> or
    ///     <see cref="ILeasedLockable" /> would configure.
    /// </summary>
    /// <typeparam name="TEntity">The entity type.</typeparam>
    /// <param name="entityTypeBuilder">The entity type builder.</param>
    /// <param name="isLocked">The <see cref="bool" /> property holding the lock.</param>
    /// <param name="lockedBy">A <see cref="string" /> property for the lock's owner, or <see langword="null" /> for locks without owners.</param>
    /// <param name="lockedAt">A <see cref="DateTimeOffset" /> property for when the lock was taken, or <see langword="null" />.</param>
    /// <param name="lockExpiresAt">A <see cref="DateTimeOffset" /> property for when the lease runs out, or <see langword="null" /> for locks without leases.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static EntityTypeBuilder<TEntity> HasObjectLock<TEntity>(
        this EntityTypeBuilder<TEntity> entityTypeBuilder,
        Expression<Func<TEntity, bool>> isLocked,
        Expression<Func<TEntity, string?>>? lockedBy = null,
        Expression<Func<TEntity, DateTimeOffset?>>? lockedAt = null,
        Expression<Func<TEntity, DateTimeOffset?>>? lockExpiresAt = null)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(entityTypeBuilder);
        ArgumentNullException.ThrowIfNull(isLocked);
        Set(entityTypeBuilder, ConcurrencyAnnotationNames.ObjectLock, isLocked);
        Set(entityTypeBuilder, ConcurrencyAnnotationNames.LockedBy, lockedBy);
        Set(entityTypeBuilder, ConcurrencyAnnotationNames.LockedAt, lockedAt);
        Set(entityTypeBuilder, ConcurrencyAnnotationNames.LockExpiresAt, lockExpiresAt);
        return entityTypeBuilder;
    }

    /// <summary>
    ///     Derives the entity's lock from the principal it references: while that principal is locked in the database
    ///     (itself, or through its own derived lock), SaveChanges refuses to add, update or delete this entity, with an
    ///     <see cref="ObjectLockedException" /> naming both (django-object-lock's section of a locked article). The
    ///     principal's lock state is read under a share lock in the save's transaction, so a lock taken concurrently either
    ///     waits for the save or is seen by it.
    /// </summary>
    /// <typeparam name="TEntity">The dependent entity type.</typeparam>
    /// <typeparam name="TPrincipal">The principal entity type: lockable, or itself deriving its lock.</typeparam>
    /// <param name="entityTypeBuilder">The dependent's entity type builder.</param>
    /// <param name="principal">The reference navigation to the principal, such as <c>s =&gt; s.Article</c>.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static EntityTypeBuilder<TEntity> HasObjectLockFrom<TEntity, TPrincipal>(
        this EntityTypeBuilder<TEntity> entityTypeBuilder,
        Expression<Func<TEntity, TPrincipal?>> principal)
        where TEntity : class
        where TPrincipal : class
    {
        ArgumentNullException.ThrowIfNull(entityTypeBuilder);
        ArgumentNullException.ThrowIfNull(principal);
        var name = principal.Body is MemberExpression { Member: var member } && member.DeclaringType?.IsAssignableFrom(typeof(TEntity)) == true
            ? member.Name
            : throw new ArgumentException(
                $"'{principal}' is not a navigation of '{typeof(TEntity).Name}'. Pass a reference navigation, such as s => s.Article.",
                nameof(principal));
        entityTypeBuilder.HasAnnotation(ConcurrencyAnnotationNames.ObjectLockFrom, name);
        return entityTypeBuilder;
    }

    private static void Set<TEntity>(EntityTypeBuilder<TEntity> builder, string annotation, LambdaExpression? property)
        where TEntity : class
    {
        if (property is null)
        {
            builder.Metadata.RemoveAnnotation(annotation);
            return;
        }

        var name = property.Body is MemberExpression { Member: var member } && member.DeclaringType?.IsAssignableFrom(typeof(TEntity)) == true
            ? member.Name
            : throw new ArgumentException(
                $"'{property}' is not a property of '{typeof(TEntity).Name}'. Pass a simple property access, such as e => e.IsLocked.",
                nameof(property));
        var propertyBuilder = builder.Property(name);
        builder.HasAnnotation(annotation, name);
        if (annotation == ConcurrencyAnnotationNames.ObjectLock)
        {
            VersionFieldGuard.InstallOnLock(propertyBuilder.Metadata);
        }
    }
}
