using System.Linq.Expressions;
using System.Reflection;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     Decorates EF's materializer source (registered by <c>UseConcurrency()</c>): a query that materializes an entity of a
///     versioned type records the version it was loaded with in its context's <see cref="SaveSession" />
///     (<see cref="LoadedVersions" />), tracking or not, and from then on the context's change tracker is observed, so
///     entities attached later are recorded too. Entity types without a version field get EF's materializer unchanged.
/// </summary>
/// <remarks>
///     Why not a materialization interceptor (<c>IMaterializationInterceptor</c>): EF applies one to every entity type of
///     every query, and builds for each materialized entity a dictionary with two delegates per property, whether the
///     interceptor needs it or not: about 1.7 KiB and 5-10% of a by-key query on every query of the context, versioned or
///     not. Here the work is compiled into the materializers of versioned types only: one read of the version column and
///     one call per entity.
/// </remarks>
internal sealed class VersionRecordingMaterializerSource(IStructuralTypeMaterializerSource inner) : IStructuralTypeMaterializerSource
{
    private static readonly MethodInfo RecordMethod
        = typeof(VersionRecordingMaterializerSource).GetMethod(nameof(Record), BindingFlags.NonPublic | BindingFlags.Static)!;

    public Expression CreateMaterializeExpression(StructuralTypeMaterializerSourceParameters parameters, Expression materializationExpression)
    {
        var materialize = inner.CreateMaterializeExpression(parameters, materializationExpression);
        if (parameters.StructuralType is not IEntityType entityType
            || VersionFieldMetadata.Find(entityType) is not { } metadata
            || materialize.Type.IsValueType)
        {
            return materialize;
        }

        // The version column is read the way EF reads a property in a materializer: from the value buffer, at the property's
        // index, which the relational shaper turns into a read of the property's reader column (shadow properties too).
        var version = Expression.Call(materializationExpression, MaterializationContext.GetValueBufferMethod)
            .CreateValueBufferReadValueExpression(typeof(object), metadata.Property.GetIndex(), metadata.Property);
        return Expression.Convert(
            Expression.Call(
                RecordMethod,
                Expression.Convert(materialize, typeof(object)),
                materializationExpression,
                version,
                Expression.Constant(metadata)),
            materialize.Type);
    }

    public Func<MaterializationContext, object> GetMaterializer(IEntityType entityType)
        => inner.GetMaterializer(entityType);

    public Func<MaterializationContext, object> GetMaterializer(IComplexType complexType)
        => inner.GetMaterializer(complexType);

    public Func<MaterializationContext, object> GetEmptyMaterializer(IEntityType entityType)
        => inner.GetEmptyMaterializer(entityType);

    public Func<MaterializationContext, object> GetEmptyMaterializer(IComplexType complexType)
        => inner.GetEmptyMaterializer(complexType);

    /// <summary>Records the version <paramref name="entity" /> was materialized with; returns the entity.</summary>
    private static object? Record(object? entity, MaterializationContext materializationContext, object? version, VersionFieldMetadata metadata)
    {
        if (entity is not null)
        {
            var context = materializationContext.Context;
            var session = context.GetService<SaveSession>();
            session.Observe(context);
            session.Loaded.Record(entity, metadata.ToLong(version));
        }

        return entity;
    }
}
