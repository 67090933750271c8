using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
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
        if (!Enum.IsDefined(wait))
        {
            throw new ArgumentOutOfRangeException(nameof(wait), wait, "Not a RowLockWait value.");
        }

        int? milliseconds = null;
        if (timeout is { } t)
        {
            if (t <= TimeSpan.Zero || t > RowLockRequest.MaxTimeout)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(timeout),
                    t,
                    $"A row-lock timeout must be more than zero and at most {RowLockRequest.MaxTimeout} (PostgreSQL's limit for lock_timeout);"
                    + " to wait without limit, omit the timeout.");
            }

            milliseconds = (int)Math.Min(int.MaxValue, Math.Ceiling(t.TotalMilliseconds));
        }

        var (request, tag) = LockTags<T>.For(strength, wait, milliseconds);
        var existing = ExistingRequest.Find(source.Expression);
        if (existing is not null)
        {
            return existing == request ? source : throw RowLockRequest.Conflicting(existing, request);
        }

        // What source.TagWith(request.Tag) does, with the method and the tag built once per element type and request
        // instead of on every call (TagWith makes its generic method on every call). EF1001: EntityQueryProvider is EF's
        // "internal" query provider; TagWith tags only queries of that provider and returns any other query unchanged,
        // and so does this.
#pragma warning disable EF1001
        return source.Provider is EntityQueryProvider
            ? source.Provider.CreateQuery<T>(Expression.Call(null, LockTags<T>.TagWith, source.Expression, tag))
            : source;
#pragma warning restore EF1001
    }

    /// <summary>A request and its tag as the constant <c>TagWith</c> takes.</summary>
    private sealed record LockTag(RowLockRequest Request, ConstantExpression Tag);

    /// <summary>
    ///     The requests of one element type, each with its tag, made once: a locking query runs its operator on every call,
    ///     and the tag text is the same every time.
    /// </summary>
    private static class LockTags<T>
    {
        /// <summary><c>EntityFrameworkQueryableExtensions.TagWith&lt;T&gt;</c>, the method EF recognizes as a query tag.</summary>
        public static readonly MethodInfo TagWith
            = new Func<IQueryable<T>, string, IQueryable<T>>(EntityFrameworkQueryableExtensions.TagWith).Method;

        /// <summary>How many requests with a timeout are kept: an application that computes its timeouts must not grow this without end.</summary>
        private const int MaxCachedTimeouts = 64;

        /// <summary>The requests without a timeout, by strength and wait mode (both checked to be defined values).</summary>
        private static readonly LockTag?[] WithoutTimeout = new LockTag?[4 * 4];

        private static readonly ConcurrentDictionary<(RowLockStrength, RowLockWait, int), LockTag> WithTimeout = new();

        public static LockTag For(RowLockStrength strength, RowLockWait wait, int? milliseconds)
        {
            if (milliseconds is not { } ms)
            {
                var index = ((int)strength * 4) + (int)wait;
                return WithoutTimeout[index] ??= Create(strength, wait, null);
            }

            if (WithTimeout.TryGetValue((strength, wait, ms), out var cached))
            {
                return cached;
            }

            cached = Create(strength, wait, ms);
            return WithTimeout.Count < MaxCachedTimeouts ? WithTimeout.GetOrAdd((strength, wait, ms), cached) : cached;
        }

        private static LockTag Create(RowLockStrength strength, RowLockWait wait, int? milliseconds)
        {
            var request = new RowLockRequest(strength, wait, milliseconds, typeof(T).Name);
            return new LockTag(request, Expression.Constant(request.Tag));
        }
    }

    /// <summary>
    ///     Finds a row-lock tag already in a query, so a second, different lock operator fails where it is called. The first
    ///     tag in the visitor's order (a call before its arguments) wins. The node types a LINQ query is made of are walked
    ///     directly; any other node is handed to the visitor, which walks everything.
    /// </summary>
    private sealed class ExistingRequest : ExpressionVisitor
    {
        private RowLockRequest? _found;

        public static RowLockRequest? Find(Expression? expression)
        {
            switch (expression)
            {
                case null or ConstantExpression or ParameterExpression:
                    return null;
                case MethodCallExpression call:
                    if (Tagged(call) is { } request)
                    {
                        return request;
                    }

                    if (Find(call.Object) is { } inObject)
                    {
                        return inObject;
                    }

                    foreach (var argument in call.Arguments)
                    {
                        if (Find(argument) is { } inArgument)
                        {
                            return inArgument;
                        }
                    }

                    return null;
                case UnaryExpression { NodeType: ExpressionType.Quote or ExpressionType.Convert, Method: null } unary:
                    return Find(unary.Operand);
                case LambdaExpression lambda:
                    return Find(lambda.Body); // its parameters are ParameterExpressions
                case BinaryExpression { Conversion: null } binary:
                    return Find(binary.Left) ?? Find(binary.Right);
                case MemberExpression member:
                    return Find(member.Expression);
                case EntityQueryRootExpression root when root.GetType() == typeof(EntityQueryRootExpression):
                    return null; // no children
                default:
                    var visitor = new ExistingRequest();
                    visitor.Visit(expression);
                    return visitor._found;
            }
        }

        protected override Expression VisitMethodCall(MethodCallExpression node)
        {
            _found ??= Tagged(node);
            return base.VisitMethodCall(node);
        }

        /// <summary>The request of a <c>TagWith</c> call with a row-lock tag; null for any other call.</summary>
        private static RowLockRequest? Tagged(MethodCallExpression node)
            => node.Method.Name == nameof(EntityFrameworkQueryableExtensions.TagWith)
                && node.Method.DeclaringType == typeof(EntityFrameworkQueryableExtensions)
                && node.Arguments[1] is ConstantExpression { Value: string tag }
                    ? RowLockRequest.Parse(tag, out _)
                    : null;
    }
}
#pragma warning restore RS0027
