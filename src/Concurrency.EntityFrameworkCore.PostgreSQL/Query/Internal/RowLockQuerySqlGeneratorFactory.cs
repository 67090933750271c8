using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;

namespace Concurrency.EntityFrameworkCore.PostgreSQL.Query.Internal;

// EF1001: INpgsqlSingletonOptions is the Npgsql provider's "internal" options service; its two settings are what
// Npgsql's own factory passes to the generator, so the SQL stays what Npgsql would generate.
#pragma warning disable EF1001

/// <summary>Creates <see cref="RowLockQuerySqlGenerator" /> in place of Npgsql's generator, with the same settings.</summary>
internal sealed class RowLockQuerySqlGeneratorFactory(
    QuerySqlGeneratorDependencies dependencies,
    IRelationalTypeMappingSource typeMappingSource,
    INpgsqlSingletonOptions npgsqlOptions)
    : IQuerySqlGeneratorFactory
{
    public QuerySqlGenerator Create()
        => new RowLockQuerySqlGenerator(dependencies, typeMappingSource, npgsqlOptions.ReverseNullOrderingEnabled, npgsqlOptions.PostgresVersion);
}
