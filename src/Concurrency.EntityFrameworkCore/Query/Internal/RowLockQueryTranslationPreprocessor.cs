using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Query;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     Before the provider's preprocessing, turns each row-lock request of a query into a query tag and removes it from the
///     tree: a <see cref="RowLockQueryRootExpression{T}" /> (what <c>ForUpdate()</c> and its siblings return), and a call of
///     one of those operators itself, which is what a compiled query's expression holds (<c>EF.CompileAsyncQuery</c> never
///     runs the operator; its arguments must then be constants). From here on, the request travels as the tag every later
///     step reads (<see cref="RowLockRequest" />). Queries without a request pass unchanged, after one walk of the tree when
///     the query is compiled (never on a cached execution).
/// </summary>
/// <remarks>
///     The lock clause locks the rows of the query's root table, so a request that would lock other rows than the ones it
///     names is refused here, with the fix, instead of locking the wrong rows: one inside a subquery or a second source
///     (a lambda, the inner side of a <c>Join</c>, the other side of a <c>Concat</c>), and one on another entity type than
///     the root's (after <c>Select(w =&gt; w.Manager)</c> or <c>SelectMany</c>).
/// </remarks>
internal sealed class RowLockQueryTranslationPreprocessor(
    QueryTranslationPreprocessor inner,
    QueryTranslationPreprocessorDependencies dependencies,
    QueryCompilationContext queryCompilationContext)
    : QueryTranslationPreprocessor(dependencies, queryCompilationContext)
{
    public override Expression Process(Expression query)
        => inner.Process(new RequestsToTags(QueryCompilationContext, MainChain(query)).Visit(query));

    /// <summary>The nodes of the query's main chain of operators: from the top, each operator's source (its first argument).</summary>
    private static HashSet<Expression> MainChain(Expression query)
    {
        var chain = new HashSet<Expression>(ReferenceEqualityComparer.Instance);
        for (var node = query; node is not null; node = QueryChain.Source(node))
        {
            chain.Add(node);
        }

        return chain;
    }

    private sealed class RequestsToTags(QueryCompilationContext queryCompilationContext, HashSet<Expression> mainChain) : ExpressionVisitor
    {
        protected override Expression VisitExtension(Expression node)
        {
            if (node is not IRowLockQueryRoot root)
            {
                return base.VisitExtension(node);
            }

            Accept(node, root.Request, root.Source, ((QueryRootExpression)node).ElementType);
            return Visit(root.Source);
        }

        protected override Expression VisitMethodCall(MethodCallExpression node)
        {
            if (RowLockOperators.Strength(node.Method) is not { } strength)
            {
                return base.VisitMethodCall(node);
            }

            var elementType = node.Method.GetGenericArguments()[0];
            var request = node.Arguments[1] switch
            {
                ConstantExpression { Value: RowLockWait wait } => RowLockRequest.Create(strength, wait, null, elementType.Name),
                ConstantExpression { Value: TimeSpan timeout } => RowLockRequest.Create(strength, RowLockWait.Block, timeout, elementType.Name),
                _ => throw new InvalidOperationException(
                    $"The compiled query on '{elementType.Name}' passes {node.Method.Name}() a {node.Arguments[1].Type.Name} that is a"
                    + " parameter of the compiled query; a compiled query's row lock must be a constant. Write the wait mode or the"
                    + $" timeout in the query itself, e.g. {node.Method.Name}(RowLockWait.NoWait), or compile one query per value."),
            };
            Accept(node, request, node.Arguments[0], elementType);
            return Visit(node.Arguments[0]);
        }

        /// <summary>Adds the request as a tag, unless it would lock other rows than the ones it names.</summary>
        private void Accept(Expression node, RowLockRequest request, Expression source, Type elementType)
        {
            if (!mainChain.Contains(node))
            {
                throw new InvalidOperationException(
                    $"The query asks for a row lock on '{request.EntityName}' inside a subquery or a second source ({request.Operator}),"
                    + " but a query locks the rows of its root entity only, so those rows would not be locked. Lock them with a query of"
                    + $" their own in the same transaction (context.Set<{request.EntityName}>().Where(...).{request.Operator}), or put"
                    + " the lock on the outer query.");
            }

            if (Root(source) is { } root
                && queryCompilationContext.Model.FindEntityType(elementType) is not null
                && !root.ClrType.IsAssignableFrom(elementType)
                && !elementType.IsAssignableFrom(root.ClrType))
            {
                throw new InvalidOperationException(
                    $"{request.Operator} is applied to '{request.EntityName}' rows that the query reaches from '{root.DisplayName()}',"
                    + $" but a row lock locks the rows of the query's root, '{root.DisplayName()}', not the '{request.EntityName}' rows"
                    + $" it returns. Lock the '{request.EntityName}' rows with a query of their own"
                    + $" (context.Set<{request.EntityName}>().Where(...).{request.Operator}), or put the lock before the projection to"
                    + $" lock the '{root.DisplayName()}' rows.");
            }

            queryCompilationContext.AddTag(request.Tag);
        }

        /// <summary>The entity type of the query root at the bottom of <paramref name="source" />'s chain; null when it has none.</summary>
        private static IEntityType? Root(Expression? source)
        {
            for (var node = source; node is not null; node = QueryChain.Source(node))
            {
                if (node is EntityQueryRootExpression root)
                {
                    return root.EntityType;
                }
            }

            return null;
        }
    }
}
