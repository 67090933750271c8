using System.Collections.Concurrent;
using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Query.Internal;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Pessimistic row locks from LINQ, the counterpart of Django's <c>select_for_update()</c>: the rows a query returns
///     stay locked until the transaction it runs in ends, so nobody can change them between the read and the save. Run
///     such a query inside <c>context.Database.BeginTransaction()</c>. On PostgreSQL, register the SQL with
///     <c>UseRowLocks()</c> from the Concurrency.EntityFrameworkCore.PostgreSQL package; on SQLite the transaction
///     itself holds the database's write lock.
/// </summary>
// RS0027 wants the overload with an optional parameter to have the most parameters; here both overloads of each operator
// take one argument (a wait mode or a timeout) by design, the contract of issue 10, so that ForUpdate() and
// ForUpdate(timeout: ...) read naturally. Adding a parameter later goes to a new overload either way.
#pragma warning disable RS0027
public static class ConcurrencyRowLockExtensions
{
    /// <summary>
    ///     Locks the rows of the query's root entity against updates, deletes and other locks until the transaction ends
    ///     (PostgreSQL <c>FOR UPDATE</c>): read, change, save without anyone changing the row in between.
    /// </summary>
    /// <typeparam name="T">The type of the query's elements.</typeparam>
    /// <param name="source">The query.</param>
    /// <param name="wait">What to do when another transaction holds a row. Defaults to <see cref="RowLockWait.Block" />.</param>
    /// <returns>The query, marked to lock.</returns>
    public static IQueryable<T> ForUpdate<T>(this IQueryable<T> source, RowLockWait wait = RowLockWait.Block)
        => Lock(source, RowLockStrength.Update, wait, null);

    /// <summary>
    ///     Like <see cref="ForUpdate{T}(IQueryable{T}, RowLockWait)" />, waiting at most <paramref name="timeout" /> for the
    ///     lock (PostgreSQL <c>lock_timeout</c>, set for this statement only), then throwing
    ///     <see cref="RowLockNotAvailableException" />.
    /// </summary>
    /// <typeparam name="T">The type of the query's elements.</typeparam>
    /// <param name="source">The query.</param>
    /// <param name="timeout">How long to wait; more than zero, at most <c>int.MaxValue</c> milliseconds.</param>
    /// <returns>The query, marked to lock.</returns>
    public static IQueryable<T> ForUpdate<T>(this IQueryable<T> source, TimeSpan timeout)
        => Lock(source, RowLockStrength.Update, RowLockWait.Block, timeout);

    /// <summary>
    ///     Locks the rows of the query's root entity against updates and deletes, but lets other transactions insert rows
    ///     that reference them (PostgreSQL <c>FOR NO KEY UPDATE</c>, what PostgreSQL's own UPDATE takes when no key
    ///     changes): the right lock to update a parent while children keep being added.
    /// </summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, RowLockWait)" />
    public static IQueryable<T> ForNoKeyUpdate<T>(this IQueryable<T> source, RowLockWait wait = RowLockWait.Block)
        => Lock(source, RowLockStrength.NoKeyUpdate, wait, null);

    /// <summary>Like <see cref="ForNoKeyUpdate{T}(IQueryable{T}, RowLockWait)" />, waiting at most <paramref name="timeout" />.</summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, TimeSpan)" />
    public static IQueryable<T> ForNoKeyUpdate<T>(this IQueryable<T> source, TimeSpan timeout)
        => Lock(source, RowLockStrength.NoKeyUpdate, RowLockWait.Block, timeout);

    /// <summary>
    ///     Locks the rows of the query's root entity against updates and deletes while other transactions may read-lock
    ///     them too (PostgreSQL <c>FOR SHARE</c>): keep a row unchanged while you act on what it says.
    /// </summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, RowLockWait)" />
    public static IQueryable<T> ForShare<T>(this IQueryable<T> source, RowLockWait wait = RowLockWait.Block)
        => Lock(source, RowLockStrength.Share, wait, null);

    /// <summary>Like <see cref="ForShare{T}(IQueryable{T}, RowLockWait)" />, waiting at most <paramref name="timeout" />.</summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, TimeSpan)" />
    public static IQueryable<T> ForShare<T>(this IQueryable<T> source, TimeSpan timeout)
        => Lock(source, RowLockStrength.Share, RowLockWait.Block, timeout);

    /// <summary>
    ///     Locks the rows of the query's root entity against deletes and key changes only (PostgreSQL <c>FOR KEY SHARE</c>,
    ///     what a foreign key check takes): the row must keep existing, its other columns may change.
    /// </summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, RowLockWait)" />
    public static IQueryable<T> ForKeyShare<T>(this IQueryable<T> source, RowLockWait wait = RowLockWait.Block)
        => Lock(source, RowLockStrength.KeyShare, wait, null);

    /// <summary>Like <see cref="ForKeyShare{T}(IQueryable{T}, RowLockWait)" />, waiting at most <paramref name="timeout" />.</summary>
    /// <inheritdoc cref="ForUpdate{T}(IQueryable{T}, TimeSpan)" />
    public static IQueryable<T> ForKeyShare<T>(this IQueryable<T> source, TimeSpan timeout)
        => Lock(source, RowLockStrength.KeyShare, RowLockWait.Block, timeout);

    private static IQueryable<T> Lock<T>(IQueryable<T> source, RowLockStrength strength, RowLockWait wait, TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(source);
        var request = Requests<T>.For(strength, wait, timeout);
        var existing = ExistingRequest(source.Expression);
        if (existing is not null)
        {
            return existing == request ? source : throw RowLockRequest.Conflicting(existing, request);
        }

        // EF1001: EntityQueryProvider is EF's "internal" query provider, the one of every EF Core query.
#pragma warning disable EF1001
        if (source.Provider is EntityQueryProvider provider)
        {
            return provider.CreateQuery<T>(new RowLockQueryRootExpression<T>(provider, source.Expression, request));
        }
#pragma warning restore EF1001

        // Another provider over an EF Core query (a wrapper such as LINQKit's AsExpandable() hands the expression to EF when
        // the query runs): the lock goes into the expression, where EF's pipeline finds it, since dropping it would run the
        // query unlocked. A query with no EF Core root (LINQ to Objects in a unit test, say) has nothing to lock: unchanged.
        return EfQueryProvider(source.Expression) is { } efProvider
            ? source.Provider.CreateQuery<T>(new RowLockQueryRootExpression<T>(efProvider, source.Expression, request))
            : source;
    }

    /// <summary>The EF Core query provider of the query root at the bottom of a chain of operators; null when there is none.</summary>
    private static IAsyncQueryProvider? EfQueryProvider(Expression? expression)
    {
        for (var node = expression; node is not null; node = QueryChain.Source(node))
        {
            if (node is QueryRootExpression { QueryProvider: { } provider })
            {
                return provider;
            }
        }

        return null;
    }

    /// <summary>
    ///     The lock already on a query's chain of operators (each operator's source is its first argument), so a second,
    ///     different lock operator fails where it is called. Only the chain is walked, not the lambdas and subqueries inside
    ///     it: the operator runs on every execution of a locking query and must cost next to nothing. A lock inside a
    ///     subquery is refused when the query is translated (<c>RowLockQueryTranslationPreprocessor</c>).
    /// </summary>
    private static RowLockRequest? ExistingRequest(Expression? expression)
    {
        for (var node = expression; node is not null; node = QueryChain.Source(node))
        {
            if (node is IRowLockQueryRoot locked)
            {
                return locked.Request;
            }
        }

        return null;
    }

    /// <summary>
    ///     The requests of one element type, made once: a locking query runs its operator on every call, and asks for the
    ///     same lock every time.
    /// </summary>
    private static class Requests<T>
    {
        /// <summary>How many requests with a timeout are kept: an application that computes its timeouts must not grow this without end.</summary>
        private const int MaxCachedTimeouts = 64;

        /// <summary>The requests without a timeout, by strength and wait mode.</summary>
        private static readonly RowLockRequest?[] WithoutTimeout = new RowLockRequest?[4 * 4];

        private static readonly ConcurrentDictionary<(RowLockStrength, RowLockWait, TimeSpan), RowLockRequest> WithTimeout = new();

        public static RowLockRequest For(RowLockStrength strength, RowLockWait wait, TimeSpan? timeout)
        {
            if (timeout is not { } t)
            {
                if ((uint)wait > (uint)RowLockWait.SkipLocked)
                {
                    return RowLockRequest.Create(strength, wait, null, typeof(T).Name); // throws, naming the argument
                }

                var index = ((int)strength * 4) + (int)wait;
                return WithoutTimeout[index] ??= RowLockRequest.Create(strength, wait, null, typeof(T).Name);
            }

            if (WithTimeout.TryGetValue((strength, wait, t), out var cached))
            {
                return cached;
            }

            cached = RowLockRequest.Create(strength, wait, t, typeof(T).Name);
            return WithTimeout.Count < MaxCachedTimeouts ? WithTimeout.GetOrAdd((strength, wait, t), cached) : cached;
        }
    }
}
#pragma warning restore RS0027
