using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Query;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     Decorates the provider's <see cref="IQueryTranslationPostprocessorFactory" /> (registered by <c>UseConcurrency()</c>):
///     its postprocessors run the provider's first, then <see cref="RowLockQueryTranslationPostprocessor" />, which touches
///     only queries with a row-lock tag.
/// </summary>
internal sealed class RowLockQueryTranslationPostprocessorFactory(
    IQueryTranslationPostprocessorFactory inner,
    QueryTranslationPostprocessorDependencies dependencies,
    DatabaseDialect dialect)
    : IQueryTranslationPostprocessorFactory
{
    public QueryTranslationPostprocessor Create(QueryCompilationContext queryCompilationContext)
        => new RowLockQueryTranslationPostprocessor(inner.Create(queryCompilationContext), dependencies, queryCompilationContext, dialect);
}
