using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     The flow every named-lock call shares, sync and async: check the arguments, find the provider's
///     <see cref="NamedLockStrategy" />, refuse a name this context already holds, acquire, and turn a wait that ran out
///     into <see cref="LockTimeoutException" /> (or null for the Try forms).
/// </summary>
internal static class NamedLockRunner
{
    /// <summary>The longest finite wait: PostgreSQL's <c>lock_timeout</c> is a 32-bit count of milliseconds (~24.8 days).</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    public static async Task<NamedLockHandle?> AcquireAsync(
        DatabaseFacade database,
        string name,
        TimeSpan? timeout,
        bool orThrow,
        bool async,
        CancellationToken cancellationToken)
    {
        var (context, strategy, registry) = Resolve(database, name, ref timeout);
        registry.EnterSession(name, context.Database.CurrentTransaction?.GetDbTransaction());
        NamedLockHandle? handle = null;
        try
        {
            handle = await strategy.AcquireAsync(new LockRequest(context, name, LockKey.Of(name), timeout, registry), async, cancellationToken)
                .ConfigureAwait(false);
            if (handle is not null)
            {
                registry.AttachSession(name, handle.Lease);
            }
        }
        finally
        {
            if (handle is null)
            {
                registry.ExitSession(name, null);
            }
        }

        return handle is null && orThrow ? throw new LockTimeoutException(name, timeout!.Value, null) : handle;
    }

    public static async Task<long?> AcquireTransactionAsync(
        DatabaseFacade database,
        string name,
        TimeSpan? timeout,
        bool orThrow,
        bool async,
        CancellationToken cancellationToken)
    {
        var (context, strategy, registry) = Resolve(database, name, ref timeout);
        var transaction = context.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException(
                $"AcquireTransactionLock('{name}') needs a current transaction: the lock is released when it commits or rolls back."
                + " Call context.Database.BeginTransaction() first, or use AcquireLockAsync for a lock held until its handle is disposed.");
        registry.EnterTransaction(name, transaction);
        long? token = null;
        try
        {
            token = await strategy.AcquireTransactionAsync(new LockRequest(context, name, LockKey.Of(name), timeout, registry), async, cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            if (token is null)
            {
                registry.ExitTransaction(name, transaction);
            }
        }

        return token is null && orThrow ? throw new LockTimeoutException(name, timeout!.Value, null) : token;
    }

    public static async Task<NamedLockHandle?> AcquireEntityAsync<TEntity>(
        DbContext context,
        TEntity entity,
        LambdaExpression? by,
        TimeSpan? timeout,
        bool reload,
        bool orThrow,
        bool async,
        CancellationToken cancellationToken)
        where TEntity : class
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(entity);
        var entry = context.Entry(entity);
        var handle = await AcquireAsync(context.Database, EntityLockName.For(entry, by), timeout, orThrow, async, cancellationToken)
            .ConfigureAwait(false);
        if (handle is null || !reload || entry.State is not (EntityState.Unchanged or EntityState.Modified))
        {
            return handle;
        }

        try
        {
            // Django's refresh_from_db: the caller works on the values the previous holder left, not on the ones it read before.
            var values = async ? await entry.GetDatabaseValuesAsync(cancellationToken).ConfigureAwait(false) : entry.GetDatabaseValues();
            if (values is not null)
            {
                entry.OriginalValues.SetValues(values);
                entry.CurrentValues.SetValues(values);
                entry.State = EntityState.Unchanged;
            }
        }
        catch
        {
            if (async)
            {
                await handle.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                handle.Dispose();
            }

            throw;
        }

        return handle;
    }

    public static async Task<T> WithLockAsync<T>(
        DatabaseFacade database,
        string name,
        Func<CancellationToken, Task<T>> body,
        TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var handle = (await AcquireAsync(database, name, timeout, orThrow: true, async: true, cancellationToken).ConfigureAwait(false))!;
        await using (handle.ConfigureAwait(false))
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, handle.HandleLostToken);
            return await body(linked.Token).ConfigureAwait(false);
        }
    }

    private static void CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            throw new ArgumentException("A lock name must not be empty.", nameof(name));
        }
    }

    /// <summary>Null or <see cref="Timeout.InfiniteTimeSpan" />: wait until free (null); otherwise 0 to ~24.8 days.</summary>
    private static TimeSpan? CheckTimeout(TimeSpan? timeout)
    {
        if (timeout is null || timeout == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        if (timeout < TimeSpan.Zero || timeout > MaxTimeout)
        {
            throw new ArgumentOutOfRangeException(
                nameof(timeout),
                timeout,
                $"A lock timeout must be between zero and {MaxTimeout} (PostgreSQL's lock_timeout limit); pass null to wait until the lock is free.");
        }

        return timeout;
    }

    /// <summary>
    ///     Checks an acquire's arguments (<paramref name="timeout" /> normalized: null to wait until free) and finds the
    ///     context, the provider's strategy and the context's registry.
    /// </summary>
    private static (DbContext Context, NamedLockStrategy Strategy, NamedLockRegistry Registry) Resolve(
        DatabaseFacade database,
        string name,
        ref TimeSpan? timeout)
    {
        ArgumentNullException.ThrowIfNull(database);
        CheckName(name);
        timeout = CheckTimeout(timeout);
        var context = database.GetService<ICurrentDbContext>().Context;
        var provider = database.ProviderName;
        var strategy = DatabaseDialect.For(provider).NamedLocks
            ?? throw new NotSupportedException(
                $"Named locks are not supported on the database provider '{provider ?? "(none)"}'. Supported: PostgreSQL"
                + $" ({DatabaseDialect.NpgsqlProviderName}) and SQLite ({DatabaseDialect.SqliteProviderName}).");
        if (database.GetService<IDbContextOptions>().FindExtension<ConcurrencyOptionsExtension>() is null)
        {
            throw new InvalidOperationException(
                $"Named locks need UseConcurrency() on '{context.GetType().Name}': configure it after the provider, for example"
                + " options.UseNpgsql(connectionString).UseConcurrency() or options.UseSqlite(connectionString).UseConcurrency().");
        }

        return (context, strategy, context.GetService<NamedLockRegistry>());
    }
}
