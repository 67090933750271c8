using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Query.SqlExpressions;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     Marks the dependent SELECTs of a split query (<c>AsSplitQuery()</c>), so a SQL generator can tell them from the
///     query's root SELECT. EF copies the query's tags to every command of a split query, so the row-lock tag alone would
///     lock in each of them; a dependent reads the collection's rows joined on the root rows the first command locked, and
///     must take no lock of its own. The mark is an annotation on the first table of the dependent's FROM chain (a
///     <see cref="SelectExpression" /> itself cannot carry annotations), the table a lock clause would name.
/// </summary>
internal static class SplitQueryDependents
{
    public const string Annotation = "Concurrency:RowLockSplitDependent";

    /// <summary>The shaper of a translated query with every split collection's SELECT marked.</summary>
    public static Expression Mark(Expression shaper)
        => new Marker().Visit(shaper);

    /// <summary>Whether <paramref name="select" /> is a split query's dependent SELECT marked by <see cref="Mark" />.</summary>
    public static bool IsDependent(SelectExpression select)
        => FirstTable(select)?.FindAnnotation(Annotation) is not null;

    /// <summary>The first table of the FROM chain: through the subqueries EF pushes the root into, to the table itself.</summary>
    public static TableExpressionBase? FirstTable(SelectExpression select)
    {
        while (true)
        {
            switch (select.Tables.FirstOrDefault())
            {
                case SelectExpression subquery:
                    select = subquery;
                    continue;
                case var table:
                    return table;
            }
        }
    }

    private static SelectExpression MarkSelect(SelectExpression select)
    {
        var first = select.Tables.FirstOrDefault() switch
        {
            SelectExpression subquery => MarkSelect(subquery),
            TableExpression or FromSqlExpression or TableValuedFunctionExpression when select.Tables[0].FindAnnotation(Annotation) is null
                => select.Tables[0].AddAnnotation(Annotation, true),
            var other => other,
        };

        return first is null || ReferenceEquals(first, select.Tables[0])
            ? select
            : select.Update(
                [first, .. select.Tables.Skip(1)],
                select.Predicate,
                select.GroupBy,
                select.Having,
                select.Projection,
                select.Orderings,
                select.Offset,
                select.Limit);
    }

    private sealed class Marker : ExpressionVisitor
    {
        protected override Expression VisitExtension(Expression node)
            => node switch
            {
                RelationalSplitCollectionShaperExpression split => split.Update(
                    split.ParentIdentifier,
                    split.ChildIdentifier,
                    MarkSelect(split.SelectExpression),
                    Visit(split.InnerShaper)),
                SelectExpression => node,
                _ => base.VisitExtension(node),
            };
    }
}
