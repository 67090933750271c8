using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Microsoft.EntityFrameworkCore.Infrastructure;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Named locks on the database, the counterpart of django-cache-lock's <c>lock("name")</c> without a cache server:
///     one holder at a time per name, across contexts, threads and processes using the same database, released when the
///     handle is disposed or, if the holder dies, at once (PostgreSQL advisory locks on PostgreSQL, OS file locks beside
///     the database file on SQLite). Each acquisition carries a fencing token that grows with every acquisition, for
///     writes that must reject a holder that lost its lock. Needs <c>UseConcurrency()</c>. See docs/named-locks.md.
/// </summary>
// RS0026: WithLockAsync has a generic and a non-generic twin with the same optional parameters, the contract of issue 12,
// so that a body returning a value and one returning nothing read the same. The overloads differ in the body's type only.
#pragma warning disable RS0026
public static class ConcurrencyNamedLockExtensions
{
    /// <summary>
    ///     Acquires the named lock, waiting until it is free (on PostgreSQL the server queues the waiter; no polling) or the
    ///     timeout passes. Dispose the handle to release it. A name this context already holds is refused (named locks are
    ///     not re-entrant); another context of the same flow waits like any other holder.
    /// </summary>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string, of any length and with any characters.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to null: until the lock is free.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled wait leaves nothing held.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static async Task<NamedLockHandle> AcquireLockAsync(
        this DatabaseFacade database,
        string name,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
        => (await NamedLockRunner.AcquireAsync(database, name, timeout, orThrow: true, async: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Acquires the named lock, waiting until it is free or the timeout passes (the synchronous twin of <see cref="AcquireLockAsync" />).</summary>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to null: until the lock is free.</param>
    /// <returns>The handle of the held lock.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static NamedLockHandle AcquireLock(this DatabaseFacade database, string name, TimeSpan? timeout = null)
        => NamedLockRunner.AcquireAsync(database, name, timeout, orThrow: true, async: false, CancellationToken.None).GetAwaiter().GetResult()!;

    /// <summary>Acquires the named lock if it can be had within <paramref name="timeout" />; null otherwise.</summary>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to zero: do not wait.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled wait leaves nothing held.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static Task<NamedLockHandle?> TryAcquireLockAsync(
        this DatabaseFacade database,
        string name,
        TimeSpan timeout = default,
        CancellationToken cancellationToken = default)
        => NamedLockRunner.AcquireAsync(database, name, timeout, orThrow: false, async: true, cancellationToken);

    /// <summary>Acquires the named lock if it can be had within <paramref name="timeout" />; null otherwise (the synchronous twin).</summary>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to zero: do not wait.</param>
    /// <returns>The handle of the held lock, or null when another holder kept it.</returns>
    public static NamedLockHandle? TryAcquireLock(this DatabaseFacade database, string name, TimeSpan timeout = default)
        => NamedLockRunner.AcquireAsync(database, name, timeout, orThrow: false, async: false, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    ///     Runs <paramref name="body" /> while holding the named lock, and releases it afterwards. The token passed to the
    ///     body is cancelled when <paramref name="cancellationToken" /> is, and when the lock is lost (PostgreSQL: its
    ///     connection was terminated), so the body can stop before it writes without the lock.
    /// </summary>
    /// <typeparam name="T">What the body returns.</typeparam>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="body">The work to do under the lock.</param>
    /// <param name="timeout">How long to wait for the lock. Defaults to null: until it is free.</param>
    /// <param name="cancellationToken">Cancels the wait and the body.</param>
    /// <returns>What the body returned.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static Task<T> WithLockAsync<T>(
        this DatabaseFacade database,
        string name,
        Func<CancellationToken, Task<T>> body,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
        => NamedLockRunner.WithLockAsync(database, name, body, timeout, cancellationToken);

    /// <summary>Runs <paramref name="body" /> while holding the named lock (the twin of <see cref="WithLockAsync{T}" /> for a body without a result).</summary>
    /// <param name="database">The context's database (<c>context.Database</c>).</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="body">The work to do under the lock; its token is cancelled when the lock is lost.</param>
    /// <param name="timeout">How long to wait for the lock. Defaults to null: until it is free.</param>
    /// <param name="cancellationToken">Cancels the wait and the body.</param>
    /// <returns>A task that completes when the body has run and the lock is released.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static Task WithLockAsync(
        this DatabaseFacade database,
        string name,
        Func<CancellationToken, Task> body,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return NamedLockRunner.WithLockAsync<bool>(
            database,
            name,
            async ct =>
            {
                await body(ct).ConfigureAwait(false);
                return true;
            },
            timeout,
            cancellationToken);
    }

    /// <summary>
    ///     Acquires the named lock for the rest of the context's current transaction: released when it commits or rolls
    ///     back, with no handle to dispose (PostgreSQL <c>pg_advisory_xact_lock</c>; works behind PgBouncer in transaction
    ///     pooling). It excludes session locks of the same name. Refused without a current transaction, and for a name this
    ///     transaction already holds.
    /// </summary>
    /// <param name="database">The context's database (<c>context.Database</c>), inside <c>BeginTransaction</c>.</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to null: until the lock is free.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled wait leaves nothing held and the transaction usable.</param>
    /// <returns>The acquisition's fencing token (see <see cref="NamedLockHandle.FencingToken" />).</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static async Task<long> AcquireTransactionLockAsync(
        this DatabaseFacade database,
        string name,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
        => (await NamedLockRunner.AcquireTransactionAsync(database, name, timeout, orThrow: true, async: true, cancellationToken).ConfigureAwait(false))!.Value;

    /// <summary>Acquires the named lock for the rest of the current transaction (the synchronous twin of <see cref="AcquireTransactionLockAsync" />).</summary>
    /// <param name="database">The context's database (<c>context.Database</c>), inside <c>BeginTransaction</c>.</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to null: until the lock is free.</param>
    /// <returns>The acquisition's fencing token.</returns>
    /// <exception cref="LockTimeoutException">Another holder kept the lock for the whole <paramref name="timeout" />.</exception>
    public static long AcquireTransactionLock(this DatabaseFacade database, string name, TimeSpan? timeout = null)
        => NamedLockRunner.AcquireTransactionAsync(database, name, timeout, orThrow: true, async: false, CancellationToken.None).GetAwaiter().GetResult()!.Value;

    /// <summary>Acquires the named lock for the rest of the current transaction if it can be had within <paramref name="timeout" />.</summary>
    /// <param name="database">The context's database (<c>context.Database</c>), inside <c>BeginTransaction</c>.</param>
    /// <param name="name">The lock's name: any non-empty string.</param>
    /// <param name="timeout">How long to wait, up to ~24.8 days. Defaults to zero: do not wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The acquisition's fencing token, or null when another holder kept the lock.</returns>
    public static Task<long?> TryAcquireTransactionLockAsync(
        this DatabaseFacade database,
        string name,
        TimeSpan timeout = default,
        CancellationToken cancellationToken = default)
        => NamedLockRunner.AcquireTransactionAsync(database, name, timeout, orThrow: false, async: true, cancellationToken);
}
