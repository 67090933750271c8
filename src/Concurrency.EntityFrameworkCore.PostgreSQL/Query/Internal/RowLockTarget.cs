using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Microsoft.EntityFrameworkCore.Query.SqlExpressions;

namespace Concurrency.EntityFrameworkCore.PostgreSQL.Query.Internal;

// EF1001: RowLockRequest is this library's own internal type (Concurrency.EntityFrameworkCore, same release).
#pragma warning disable EF1001

/// <summary>
///     Finds the SELECT that takes the lock: the innermost one on the chain of first tables from the top-level SELECT, whose
///     first table is the root entity's table. EF wraps the root in a subquery for <c>Include</c> of a collection combined
///     with paging; the lock clause goes inside that subquery, on the root table's alias, so it never touches the nullable
///     side of an outer join, and the dependents' rows are not locked. Refuses the shapes PostgreSQL cannot lock, naming
///     why, at translation time.
/// </summary>
internal static class RowLockTarget
{
    private static readonly HashSet<string> Aggregates = new(StringComparer.OrdinalIgnoreCase)
    {
        "COUNT", "SUM", "AVG", "MIN", "MAX", "STRING_AGG", "ARRAY_AGG", "BOOL_AND", "BOOL_OR", "EVERY", "JSON_AGG",
        "JSONB_AGG", "JSON_OBJECT_AGG", "JSONB_OBJECT_AGG", "BIT_AND", "BIT_OR", "STDDEV", "VARIANCE",
    };

    /// <summary>The SELECT to lock and the alias of the table it locks.</summary>
    public static (SelectExpression Select, string Alias) Find(SelectExpression root, RowLockRequest request)
    {
        if (root.IsNonComposedFromSql())
        {
            throw Refused(request, "it is a FromSql query EF does not compose, so there is no SQL to add the clause to; compose it (for example add a Where) or write the locking clause in the SQL");
        }

        var select = root;
        while (true)
        {
            if (select.IsDistinct)
            {
                throw Refused(request, "it uses Distinct (PostgreSQL cannot lock rows that DISTINCT merges)");
            }

            if (select.GroupBy.Count > 0 || select.Having is not null)
            {
                throw Refused(request, "it uses GroupBy (PostgreSQL cannot lock grouped rows)");
            }

            if (select.Projection.Any(p => AggregateFinder.Contains(p.Expression)))
            {
                throw Refused(request, "its result is an aggregate (Count, Sum, Min, Max, Average...), which is not a row PostgreSQL can lock; lock the rows with ToList() and aggregate in memory, or aggregate without a lock");
            }

            switch (select.Tables.FirstOrDefault())
            {
                case null:
                    throw Refused(request, "it reads no table (Any() and All() become SELECT EXISTS(...)); use FirstOrDefault() to lock the row you test for");
                case SetOperationBase:
                    throw Refused(request, "it combines queries with Union, Concat, Intersect or Except (PostgreSQL cannot lock the result of a set operation); lock each query on its own");
                case SelectExpression subquery:
                    select = subquery;
                    continue;
                case var table:
                    return (select, table.Alias!);
            }
        }
    }

    private static InvalidOperationException Refused(RowLockRequest request, string why)
        => new($"The query on '{request.EntityName}' cannot take a row lock ({request.Operator}) because {why}.");

    /// <summary>Whether an expression of a projection calls an aggregate at this level (not inside a subquery).</summary>
    private sealed class AggregateFinder : ExpressionVisitor
    {
        private bool _found;

        public static bool Contains(Expression expression)
        {
            var finder = new AggregateFinder();
            finder.Visit(expression);
            return finder._found;
        }

        public override Expression? Visit(Expression? node)
            => _found ? node : node switch
            {
                ScalarSubqueryExpression or ExistsExpression or SelectExpression => node,
                SqlFunctionExpression function when Aggregates.Contains(function.Name) => Found(node),
                _ => base.Visit(node),
            };

        private Expression Found(Expression node)
        {
            _found = true;
            return node;
        }
    }
}
