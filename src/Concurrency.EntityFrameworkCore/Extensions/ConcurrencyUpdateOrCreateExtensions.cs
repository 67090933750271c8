using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Update.Internal;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Django's <c>update_or_create</c> under <c>select_for_update</c>, safe on the create path too: two callers for the
///     same not-yet-existing key never both create it.
/// </summary>
// RS0026: the one-match and many-match overloads both end with an optional CancellationToken, as EF's own async
// operators do; the contract names both.
#pragma warning disable RS0026
public static class ConcurrencyUpdateOrCreateExtensions
{
    /// <summary>
    ///     Tries each of <paramref name="match" /> in order under a row lock (<c>ForUpdate()</c>); applies
    ///     <paramref name="update" /> to the first row found and saves, or adds <paramref name="create" />'s entity and
    ///     saves when none matches. Creates of the same key are serialised (PostgreSQL: a transaction-scoped advisory lock
    ///     on the entity type and the match values; SQLite: the transaction's write lock), and a unique violation by a
    ///     writer that does not use this method is answered by reading again.
    /// </summary>
    /// <remarks>
    ///     Runs in the caller's transaction if there is one (then a unique violation is not retried: the transaction is
    ///     aborted), otherwise in its own, committed before it returns. On PostgreSQL it needs <c>UseRowLocks()</c>.
    /// </remarks>
    /// <typeparam name="T">The entity type.</typeparam>
    /// <param name="set">The entity set.</param>
    /// <param name="match">The lookups to try, in order (for example by remote id, then by slug).</param>
    /// <param name="update">Changes the row found.</param>
    /// <param name="create">Makes the new entity when no lookup finds a row.</param>
    /// <param name="cancellationToken">Cancels the reads and the save.</param>
    /// <returns>The entity updated or created, and whether it was created.</returns>
    public static Task<(T Entity, bool Created)> UpdateOrCreateAsync<T>(
        this DbSet<T> set,
        Expression<Func<T, bool>>[] match,
        Action<T> update,
        Func<T> create,
        CancellationToken cancellationToken = default)
        where T : class
        => UpdateOrCreateRunner.RunAsync(set, match, update, create, async: true, cancellationToken);

    /// <inheritdoc cref="UpdateOrCreateAsync{T}(DbSet{T}, Expression{Func{T, bool}}[], Action{T}, Func{T}, CancellationToken)" />
    public static Task<(T Entity, bool Created)> UpdateOrCreateAsync<T>(
        this DbSet<T> set,
        Expression<Func<T, bool>> match,
        Action<T> update,
        Func<T> create,
        CancellationToken cancellationToken = default)
        where T : class
        => UpdateOrCreateRunner.RunAsync(set, [match], update, create, async: true, cancellationToken);

    /// <summary>The synchronous twin of <c>UpdateOrCreateAsync</c>; the same rules apply.</summary>
    /// <inheritdoc cref="UpdateOrCreateAsync{T}(DbSet{T}, Expression{Func{T, bool}}[], Action{T}, Func{T}, CancellationToken)" />
    public static (T Entity, bool Created) UpdateOrCreate<T>(this DbSet<T> set, Expression<Func<T, bool>>[] match, Action<T> update, Func<T> create)
        where T : class
        => UpdateOrCreateRunner.RunAsync(set, match, update, create, async: false, CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc cref="UpdateOrCreate{T}(DbSet{T}, Expression{Func{T, bool}}[], Action{T}, Func{T})" />
    public static (T Entity, bool Created) UpdateOrCreate<T>(this DbSet<T> set, Expression<Func<T, bool>> match, Action<T> update, Func<T> create)
        where T : class
        => UpdateOrCreateRunner.RunAsync(set, [match], update, create, async: false, CancellationToken.None).GetAwaiter().GetResult();
}
#pragma warning restore RS0026
