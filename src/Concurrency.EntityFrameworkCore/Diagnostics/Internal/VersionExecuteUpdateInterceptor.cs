using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;

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

        var versionType = metadata.Property.ClrType;
        var entity = Expression.Parameter(clrType, "e");
        var version = Expression.Call(PropertyMethod.MakeGenericMethod(versionType), entity, Expression.Constant(metadata.Property.Name));
        var bump = Expression.New(
            SetterConstructor,
            Expression.Lambda(version, entity),
            Expression.Lambda(Expression.Add(version, Expression.Constant(versionType == typeof(long) ? 1L : (object)1, versionType)), entity));

        return call.Update(
            call.Object,
            [source, Expression.NewArrayInit(typeof(ITuple), setters.Expressions.Append(bump))]);
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
