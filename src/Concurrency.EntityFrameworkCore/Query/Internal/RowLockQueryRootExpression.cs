using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore.Query;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     A query a locking operator (<c>ForUpdate()</c> and its siblings) was called on, with the lock it asked for. The
///     preprocessor (<see cref="RowLockQueryTranslationPreprocessor" />) unwraps it before EF translates anything and adds
///     the request as a query tag (<see cref="RowLockRequest.Tag" />), which carries it to the SQL generator and the command.
/// </summary>
/// <remarks>
///     <para>
///         Why a query root and not a <c>TagWith</c> call: a locking query runs its operator on every execution, and EF's
///         parameter extraction visits the whole tree on every execution. A <c>TagWith</c> call has a constant argument, and
///         for every such argument EF reads the method's parameters and their <c>[NotParameterized]</c> attribute by
///         reflection, each time: about 15 µs of a 300 µs query. A query root is never evaluated (EF visits its children,
///         here the source query, as it does for <c>FromSql</c>'s), so the lock costs nothing there.
///     </para>
///     <para>
///         Its <see cref="Type" /> is <see cref="IRowLockedQueryable{T}" />, not <c>IQueryable&lt;T&gt;</c>: EF's query cache
///         compares expression trees node by node, type first, so a locking query can never be matched with a cached query
///         without the lock (or with another lock), whatever another root type's <c>Equals</c> says.
///     </para>
/// </remarks>
/// <typeparam name="T">The query's element type.</typeparam>
internal sealed class RowLockQueryRootExpression<T> : QueryRootExpression, IRowLockQueryRoot
{
    public RowLockQueryRootExpression(IAsyncQueryProvider? queryProvider, Expression source, RowLockRequest request)
        : base(typeof(T))
    {
        QueryProvider = queryProvider;
        Source = source;
        Request = request;
    }

    /// <summary>The query the operator was called on.</summary>
    public Expression Source { get; }

    /// <summary>The lock it asked for.</summary>
    public RowLockRequest Request { get; }

    public override IAsyncQueryProvider? QueryProvider { get; }

    public override Type Type
        => typeof(IRowLockedQueryable<T>);

    public override Expression DetachQueryProvider()
        => new RowLockQueryRootExpression<T>(null, Source, Request);

    /// <summary>Visits the source query, so EF extracts its parameters as it does for any query.</summary>
    protected override Expression VisitChildren(ExpressionVisitor visitor)
    {
        var source = visitor.Visit(Source);
        return ReferenceEquals(source, Source) ? this : new RowLockQueryRootExpression<T>(QueryProvider, source, Request);
    }

    protected override void Print(ExpressionPrinter expressionPrinter)
    {
        expressionPrinter.Visit(Source);
        expressionPrinter.Append("." + Request.Operator);
    }

    public override bool Equals(object? obj)
        => ReferenceEquals(this, obj)
            || (obj is RowLockQueryRootExpression<T> other
                && Request == other.Request
                && ExpressionEqualityComparer.Instance.Equals(Source, other.Source));

    public override int GetHashCode()
        => HashCode.Combine(Request, ExpressionEqualityComparer.Instance.GetHashCode(Source));
}

/// <summary>What the preprocessor reads of a <see cref="RowLockQueryRootExpression{T}" />, whatever its element type.</summary>
internal interface IRowLockQueryRoot
{
    /// <summary>The query the operator was called on.</summary>
    Expression Source { get; }

    /// <summary>The lock it asked for.</summary>
    RowLockRequest Request { get; }
}

/// <summary>The type of a <see cref="RowLockQueryRootExpression{T}" /> node: a query of <typeparamref name="T" /> with a row lock.</summary>
/// <typeparam name="T">The query's element type.</typeparam>
internal interface IRowLockedQueryable<out T> : IQueryable<T>;
