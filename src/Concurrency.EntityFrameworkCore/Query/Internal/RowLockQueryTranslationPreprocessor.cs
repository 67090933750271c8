using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
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
internal sealed class RowLockQueryTranslationPreprocessor(
    QueryTranslationPreprocessor inner,
    QueryTranslationPreprocessorDependencies dependencies,
    QueryCompilationContext queryCompilationContext)
    : QueryTranslationPreprocessor(dependencies, queryCompilationContext)
{
    public override Expression Process(Expression query)
        => inner.Process(new RequestsToTags(QueryCompilationContext).Visit(query));

    private sealed class RequestsToTags(QueryCompilationContext queryCompilationContext) : ExpressionVisitor
    {
        protected override Expression VisitExtension(Expression node)
        {
            if (node is not IRowLockQueryRoot root)
            {
                return base.VisitExtension(node);
            }

            queryCompilationContext.AddTag(root.Request.Tag);
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
            queryCompilationContext.AddTag(request.Tag);
            return Visit(node.Arguments[0]);
        }
    }
}
