using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Query;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     After the provider's postprocessing (projections applied, split queries split), prepares a locking query for the
///     commands it becomes: marks a split query's dependent SELECTs (<see cref="SplitQueryDependents" />), and adds the
///     query's <see cref="RowLockReadPlan" /> as a tag, which tells the command interceptor the rows' columns (to refresh
///     entities the context already tracks) and the table (to take SQLite's write lock). Queries without a row-lock tag
///     pass unchanged.
/// </summary>
internal sealed class RowLockQueryTranslationPostprocessor(
    QueryTranslationPostprocessor inner,
    QueryTranslationPostprocessorDependencies dependencies,
    QueryCompilationContext queryCompilationContext,
    DatabaseDialect dialect)
    : QueryTranslationPostprocessor(dependencies, queryCompilationContext)
{
    public override Expression Process(Expression query)
    {
        var processed = inner.Process(query);
        if (processed is not ShapedQueryExpression shaped || RowLockRequest.Find(QueryCompilationContext.Tags) is null)
        {
            return processed;
        }

        if (RowLockReadPlan.CreateTag(shaped, QueryCompilationContext, dialect) is { } plan)
        {
            QueryCompilationContext.AddTag(plan);
        }

        return shaped.UpdateShaperExpression(SplitQueryDependents.Mark(shaped.ShaperExpression));
    }
}
