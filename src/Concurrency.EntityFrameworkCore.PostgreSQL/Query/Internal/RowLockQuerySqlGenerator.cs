using System.Globalization;
using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Query.SqlExpressions;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql.EntityFrameworkCore.PostgreSQL.Query.Internal;

namespace Concurrency.EntityFrameworkCore.PostgreSQL.Query.Internal;

// EF1001: RowLockRequest is this library's own internal type (Concurrency.EntityFrameworkCore, same release).
// NpgsqlQuerySqlGenerator is an EF "internal" type of the Npgsql provider. It is the only seam that renders a
// locking clause on a SELECT EF generates: the public QuerySqlGenerator would lose every PostgreSQL translation (ILIKE,
// arrays, JSON...). The provider range is pinned to [10.0.3, 11.0.0) for this reason.
#pragma warning disable EF1001

/// <summary>
///     Npgsql's query SQL generator, plus the row lock a query asked for with <c>ForUpdate()</c> and its siblings (a query
///     tag): <c>FOR UPDATE OF "root alias"</c> (and <c>NOWAIT</c> or <c>SKIP LOCKED</c>) at the end of the SELECT that reads
///     the root table, and for a timeout <c>SET LOCAL lock_timeout</c> before the statement and the previous value restored
///     after it, in the same command. The tag is rendered as <c>concurrency:row-locked:...</c>, so the command interceptor
///     knows the lock is in the SQL. A split query's dependent SELECTs (marked by <see cref="SplitQueryDependents" />) get no
///     clause: they read the collection's rows joined on the root rows the first command locked, and their tag is rendered as
///     <c>concurrency:row-lock-split:...</c>. One instance generates one command at a time (EF's contract for SQL generators).
/// </summary>
internal sealed class RowLockQuerySqlGenerator(
    QuerySqlGeneratorDependencies dependencies,
    IRelationalTypeMappingSource typeMappingSource,
    bool reverseNullOrderingEnabled,
    Version postgresVersion)
    : NpgsqlQuerySqlGenerator(dependencies, typeMappingSource, reverseNullOrderingEnabled, postgresVersion)
{
    /// <summary>A custom setting that holds <c>lock_timeout</c> while the statement runs with its own.</summary>
    private const string SavedTimeoutSetting = "concurrency.saved_lock_timeout";

    private SelectExpression? _lockedSelect;
    private string? _lockClause;
    private bool _splitDependent;

    protected override void GenerateRootCommand(Expression queryExpression)
    {
        if (queryExpression is not SelectExpression root || RowLockRequest.Find(root.Tags) is not { } request)
        {
            base.GenerateRootCommand(queryExpression);
            return;
        }

        if (SplitQueryDependents.IsDependent(root))
        {
            _splitDependent = true;
            try
            {
                base.GenerateRootCommand(queryExpression);
            }
            finally
            {
                _splitDependent = false;
            }

            return;
        }

        var (select, alias) = RowLockTarget.Find(root, request);
        _lockedSelect = select;
        _lockClause = request.Clause + " OF " + Dependencies.SqlGenerationHelper.DelimitIdentifier(alias) + request.Wait switch
        {
            RowLockWait.NoWait => " NOWAIT",
            RowLockWait.SkipLocked => " SKIP LOCKED",
            _ => "",
        };
        try
        {
            if (request.TimeoutMilliseconds is { } milliseconds)
            {
                // A transaction-local setting lasts until the transaction ends, so the previous value is saved first and
                // restored after the SELECT. The SELECT's rows must be the command's first result set: the save and the new
                // value are set in one DO block, which returns none; the restore follows as a second result set of one row,
                // which EF never reads (Npgsql skips it when the reader is disposed) and which costs less than a second DO.
                Sql.Append(string.Create(
                        CultureInfo.InvariantCulture,
                        $"DO $$BEGIN PERFORM set_config('{SavedTimeoutSetting}', current_setting('lock_timeout'), true); PERFORM set_config('lock_timeout', '{milliseconds}ms', true); END$$;"))
                    .AppendLine();
                base.GenerateRootCommand(queryExpression);
                Sql.Append(";")
                    .AppendLine()
                    .Append($"SELECT set_config('lock_timeout', current_setting('{SavedTimeoutSetting}'), true)");
            }
            else
            {
                base.GenerateRootCommand(queryExpression);
            }
        }
        finally
        {
            _lockedSelect = null;
            _lockClause = null;
        }
    }

    // EF generates a FromSql query's SQL on every execution: a query without a row-lock tag passes its tags as they are.
    protected override void GenerateTagsHeaderComment(ISet<string> tags)
        => base.GenerateTagsHeaderComment(
            !tags.Any(t => t.StartsWith(RowLockRequest.Prefix, StringComparison.Ordinal))
                ? tags
                : tags.Select(t => RowLockRequest.Parse(t, out var kind) is { } request && kind == RowLockTagKind.Requested
                        ? _splitDependent ? request.SplitDependentTag : request.RenderedTag
                        : t)
                    .ToHashSet());

    protected override void GenerateLimitOffset(SelectExpression selectExpression)
    {
        base.GenerateLimitOffset(selectExpression);
        if (ReferenceEquals(selectExpression, _lockedSelect))
        {
            Sql.AppendLine().Append(_lockClause!);
        }
    }
}
