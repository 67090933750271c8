using System.Data.Common;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Update.Internal;

/// <summary>
///     Django's <c>update_or_create</c> under <c>select_for_update</c>, with the create path closed too: the matches are
///     tried in order under a row lock; when none finds a row, the creates of the same key are serialised (PostgreSQL: a
///     transaction-scoped advisory lock on a hash of the entity type and the match values, taken before the first read;
///     SQLite: the transaction's write lock), so two callers never both create. A unique violation (a writer that does not
///     use this method) is answered by reading again, in a new transaction of our own.
/// </summary>
internal static class UpdateOrCreateRunner
{
    private const int MaxAttempts = 3;

    public static async Task<(T Entity, bool Created)> RunAsync<T>(
        DbSet<T> set,
        Expression<Func<T, bool>>[] match,
        Action<T> update,
        Func<T> create,
        bool async,
        CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(match);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(create);
        if (match.Length == 0 || match.Any(m => m is null))
        {
            throw new ArgumentException("Give at least one match expression, none of them null.", nameof(match));
        }

        var context = set.GetService<ICurrentDbContext>().Context;
        var dialect = context.GetService<DatabaseDialect>();
        var key = Key(typeof(T), match);
        for (var attempt = 1; ; attempt++)
        {
            var own = context.Database.CurrentTransaction is null && System.Transactions.Transaction.Current is null;
            var transaction = own
                ? async ? await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false) : context.Database.BeginTransaction()
                : null;
            try
            {
                var result = await RunOnceAsync(set, context, dialect, key, match, update, create, async, cancellationToken).ConfigureAwait(false);
                if (transaction is not null)
                {
                    if (async)
                    {
                        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        transaction.Commit();
                    }
                }

                return result;
            }
            catch (DbUpdateException e) when (own && attempt < MaxAttempts && e.InnerException is DbException db && dialect.IsUniqueViolation(db))
            {
                // Someone created the row without this method between our read and our insert: read again.
                foreach (var entry in context.ChangeTracker.Entries<T>().Where(x => x.State == EntityState.Added).ToList())
                {
                    entry.State = EntityState.Detached;
                }
            }
            finally
            {
                if (transaction is not null)
                {
                    if (async)
                    {
                        await transaction.DisposeAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        transaction.Dispose();
                    }
                }
            }
        }
    }

    private static async Task<(T Entity, bool Created)> RunOnceAsync<T>(
        DbSet<T> set,
        DbContext context,
        DatabaseDialect dialect,
        long key,
        Expression<Func<T, bool>>[] match,
        Action<T> update,
        Func<T> create,
        bool async,
        CancellationToken cancellationToken)
        where T : class
    {
        if (dialect.TransactionKeyLockSql is { } lockSql)
        {
            object[] parameters = [key];
            _ = async
                ? await context.Database.ExecuteSqlRawAsync(lockSql, parameters, cancellationToken).ConfigureAwait(false)
                : context.Database.ExecuteSqlRaw(lockSql, parameters);
        }

        foreach (var predicate in match)
        {
            var query = set.Where(predicate).ForUpdate();
            var found = async ? await query.FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false) : query.FirstOrDefault();
            if (found is not null)
            {
                update(found);
                await SaveAsync(context, async, cancellationToken).ConfigureAwait(false);
                return (found, false);
            }
        }

        var created = create() ?? throw new InvalidOperationException($"The create function of UpdateOrCreate returned null for '{typeof(T).Name}'.");
        set.Add(created);
        await SaveAsync(context, async, cancellationToken).ConfigureAwait(false);
        return (created, true);
    }

    private static async Task SaveAsync(DbContext context, bool async, CancellationToken cancellationToken)
    {
        if (async)
        {
            await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            context.SaveChanges();
        }
    }

    /// <summary>
    ///     The advisory-lock key: a hash of the entity type and each match's text with the values it captured (closure
    ///     fields and constants), so the same key from two callers gives the same lock, and different keys rarely collide
    ///     (a collision only makes two unrelated calls wait for each other).
    /// </summary>
    internal static long Key(Type entityType, IEnumerable<LambdaExpression> match)
    {
        var text = new StringBuilder(entityType.FullName);
        foreach (var predicate in match)
        {
            text.Append('|').Append(predicate.Body);
            new ValueCollector(text).Visit(predicate.Body);
        }

        return LockKey.Of(text.ToString());
    }

    /// <summary>Appends the values of the constants and captured variables of an expression.</summary>
    private sealed class ValueCollector(StringBuilder text) : ExpressionVisitor
    {
        protected override Expression VisitMember(MemberExpression node)
        {
            if (TryEvaluate(node, out var value))
            {
                text.Append('|').Append(value);
                return node;
            }

            return base.VisitMember(node);
        }

        protected override Expression VisitConstant(ConstantExpression node)
        {
            if (node.Value is null || node.Type.IsPrimitive || node.Value is string or decimal or Guid or DateTime or DateTimeOffset or Enum)
            {
                text.Append('|').Append(node.Value);
            }

            return node;
        }

        private static bool TryEvaluate(MemberExpression node, out object? value)
        {
            value = null;
            object? target = null;
            if (node.Expression is ConstantExpression constant)
            {
                target = constant.Value;
            }
            else if (node.Expression is MemberExpression inner && TryEvaluate(inner, out var innerValue))
            {
                target = innerValue;
            }
            else if (node.Expression is not null)
            {
                return false;
            }

            value = node.Member switch
            {
                FieldInfo field => field.GetValue(target),
                PropertyInfo property => property.GetValue(target),
                _ => null,
            };
            return node.Member is FieldInfo or PropertyInfo;
        }
    }
}
