using Microsoft.EntityFrameworkCore.Query;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     Decorates the provider's <see cref="IQueryTranslationPreprocessorFactory" /> (registered by <c>UseConcurrency()</c>):
///     <see cref="RowLockQueryTranslationPreprocessor" /> turns the query's row-lock requests into tags, then the provider's
///     preprocessor runs.
/// </summary>
internal sealed class RowLockQueryTranslationPreprocessorFactory(
    IQueryTranslationPreprocessorFactory inner,
    QueryTranslationPreprocessorDependencies dependencies)
    : IQueryTranslationPreprocessorFactory
{
    public QueryTranslationPreprocessor Create(QueryCompilationContext queryCompilationContext)
        => new RowLockQueryTranslationPreprocessor(inner.Create(queryCompilationContext), dependencies, queryCompilationContext);
}
