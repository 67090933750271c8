using System.Linq.Expressions;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     A query's chain of operators, walked from the top down to its root: each operator's source is its first argument
///     (the object for an instance method), and a locked query's source is the query the lock was put on. Where a row lock
///     looks for an earlier lock, the query's root, and whether a lock is on the query itself or in a subquery.
/// </summary>
internal static class QueryChain
{
    /// <summary>The source of <paramref name="node" /> in its chain; null when it ends the chain.</summary>
    public static Expression? Source(Expression node)
        => node switch
        {
            MethodCallExpression call => call.Arguments.Count > 0 ? call.Arguments[0] : call.Object,
            IRowLockQueryRoot locked => locked.Source,
            _ => null,
        };
}
