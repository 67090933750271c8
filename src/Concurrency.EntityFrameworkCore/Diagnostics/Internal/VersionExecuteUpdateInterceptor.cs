using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Adds <c>version = version + 1</c> to every <c>ExecuteUpdate</c> of an entity with an integer version field (or a
///     conditional one when a watched property is set), in the same statement, so editors who loaded a row before the
///     bulk update get a conflict instead of overwriting it. Trigger versions need nothing: the trigger fires.
/// </summary>
/// <remarks>
///     Works on the LINQ expression before EF compiles it. The rewrite depends only on the query's shape and the model,
///     so EF's compiled-query cache stays correct. Applies inside <see cref="DisableConcurrency" /> too: a bulk change is a
///     change.
/// </remarks>
internal sealed class VersionExecuteUpdateInterceptor(IDbContextOptions options) : IQueryExpressionInterceptor
{
    private static readonly MethodInfo PropertyMethod = typeof(EF).GetMethod(nameof(EF.Property))!;

    private static readonly ConstructorInfo SetterConstructor
        = typeof(Tuple<Delegate, object>).GetConstructor([typeof(Delegate), typeof(object)])!;

    private readonly bool _enabled = options.FindExtension<ConcurrencyOptionsExtension>()?.BumpVersionsInExecuteUpdate ?? true;

    public Expression QueryCompilationStarting(Expression queryExpression, QueryExpressionEventData eventData)
    {
        if (!_enabled
            || queryExpression is not MethodCallExpression { Method: { Name: "ExecuteUpdate", IsGenericMethod: true } method } call
            || method.DeclaringType != typeof(EntityFrameworkQueryableExtensions)
            || call.Arguments is not [var source, NewArrayExpression setters]
            || eventData.Context is not { } context)
        {
            return queryExpression;
        }

        var clrType = method.GetGenericArguments()[0];
        var entityType = context.Model.FindEntityType(clrType);
        var metadata = entityType is null ? null : VersionFieldMetadata.Find(entityType);
        if (metadata is null || metadata.Kind == VersionFieldKind.Trigger)
        {
            return queryExpression;
        }

        var assigned = setters.Expressions.Select(AssignedPropertyName).ToList();
        if (assigned.Contains(metadata.Property.Name)
            || (metadata.Kind == VersionFieldKind.Conditional && !metadata.WatchedProperties.Any(p => assigned.Contains(p.Name))))
        {
            return queryExpression;
        }

        RefuseSettersInOtherTables(entityType!, metadata, assigned);
        var bump = Expression.New(SetterConstructor, Bump(clrType, metadata));

        return call.Update(
            call.Object,
            [source, Expression.NewArrayInit(typeof(ITuple), setters.Expressions.Append(bump))]);
    }

    /// <summary>
    ///     <c>e => EF.Property(e, "Version")</c> and <c>e => version + 1 / (version == max ? 0 : 1)</c>: at the largest value
    ///     the type holds, the division by zero makes the statement fail (PostgreSQL: division by zero; SQLite: NULL, which
    ///     the NOT NULL version column refuses) instead of wrapping around or storing a value the property cannot hold.
    /// </summary>
    private static Expression[] Bump(Type clrType, VersionFieldMetadata metadata)
    {
        var versionType = metadata.Property.ClrType;
        var entity = Expression.Parameter(clrType, "e");
        var version = Expression.Call(PropertyMethod.MakeGenericMethod(versionType), entity, Expression.Constant(metadata.Property.Name));
        Expression Constant(long value)
            => Expression.Constant(versionType == typeof(long) ? value : (object)checked((int)value), versionType);

        var max = versionType == typeof(long) ? long.MaxValue : int.MaxValue;
        var step = Expression.Divide(Constant(1), Expression.Condition(Expression.Equal(version, Constant(max)), Constant(0), Constant(1)));
        return [Expression.Lambda(version, entity), Expression.Lambda(Expression.Add(version, step), entity)];
    }

    /// <summary>
    ///     EF updates one table per ExecuteUpdate. When a setter targets another table than the version column (a derived
    ///     table in TPT), the version cannot be bumped in the same statement, and updating without it would let stale
    ///     editors overwrite the change unnoticed: refuse with the way out.
    /// </summary>
    private static void RefuseSettersInOtherTables(IEntityType entityType, VersionFieldMetadata metadata, List<string?> assigned)
    {
        var versionTable = StoreObjectIdentifier.Create((IEntityType)metadata.Property.DeclaringType, StoreObjectType.Table);
        foreach (var name in assigned)
        {
            if (name is null || entityType.FindProperty(name) is not { } property)
            {
                continue;
            }

            var table = StoreObjectIdentifier.Create((IEntityType)property.DeclaringType, StoreObjectType.Table);
            if (table is { } other && versionTable is { } own && other != own)
            {
                throw new InvalidOperationException(
                    $"ExecuteUpdate on '{entityType.DisplayName()}' sets '{property.Name}', which is stored in table '{other.Name}',"
                    + $" but the version field '{metadata.Property.Name}' is stored in table '{own.Name}'. EF Core updates one table"
                    + " per ExecuteUpdate, so the version cannot be incremented with this change, and without it editors holding"
                    + " stale copies would overwrite it unnoticed. Load the entities and change them with SaveChanges (which"
                    + $" updates both tables and checks the version), or set only properties of table '{own.Name}' in ExecuteUpdate.");
            }
        }
    }

    /// <summary>The property a setter assigns: <c>e => e.Name</c> or <c>e => EF.Property&lt;T&gt;(e, "Name")</c>.</summary>
    private static string? AssignedPropertyName(Expression setter)
    {
        if (setter is not NewExpression { Arguments: [var property, _] })
        {
            return null;
        }

        var body = (StripQuotes(property) as LambdaExpression)?.Body;
        while (body is UnaryExpression { NodeType: ExpressionType.Convert } convert)
        {
            body = convert.Operand;
        }

        return body switch
        {
            MemberExpression member => member.Member.Name,
            MethodCallExpression { Method.Name: nameof(EF.Property), Arguments: [_, ConstantExpression { Value: string name }] } => name,
            _ => null,
        };
    }

    private static Expression StripQuotes(Expression expression)
        => expression is UnaryExpression { NodeType: ExpressionType.Quote } quote ? quote.Operand : expression;
}
