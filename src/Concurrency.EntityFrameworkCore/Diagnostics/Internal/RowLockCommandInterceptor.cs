using System.Data.Common;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking.Internal;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     Guards every command of a locking query (<c>ForUpdate()</c> and its siblings), whatever the provider: refuses it
///     outside a transaction (a lock that ends with the statement protects nothing), refuses it when the lock was not
///     rendered into the SQL on a database that needs it (never silently unlocked), and turns the database's "lock not
///     available" and "deadlock" errors into <see cref="RowLockNotAvailableException" /> and
///     <see cref="DeadlockDetectedException" />, also when they are raised while the rows are read
///     (<see cref="RowLockDataReader" />). Entities the context already tracks are refreshed from the locked rows
///     (<see cref="TrackedRowRefresher" />). On SQLite, a transaction that may have begun without the write lock takes it
///     before the query (<see cref="WriteLockUpgrade" />). Commands without the row-lock tag pass untouched, as do a split query's
///     dependent commands (they lock nothing, see <see cref="RowLockTagKind.SplitDependent" />).
/// </summary>
/// <remarks>
///     It runs for every command, so a command's tag is read once per command text (<see cref="RowLockCommandTag" />), and
///     the context's change tracker is looked up once per context: the interceptor is a scoped service, one per context
///     (also when pooled), so the one it remembers is its context's.
/// </remarks>
internal sealed class RowLockCommandInterceptor(DatabaseDialect dialect, SaveSession session, WriteLockedTransactions writeLocked)
    : DbCommandInterceptor
{
    private ContextStateManager? _stateManager;

    public override InterceptionResult<DbDataReader> ReaderExecuting(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<DbDataReader> result)
    {
        if (Check(command) is { } request && dialect.WriteLockSql is not null && eventData.Context is { } context)
        {
            WriteLockUpgrade.TakeAsync(context, command, request, dialect, writeLocked, async: false, CancellationToken.None).GetAwaiter().GetResult();
        }

        return result;
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command,
        CommandEventData eventData,
        InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken = default)
        => Check(command) is { } request && dialect.WriteLockSql is not null && eventData.Context is { } context
            ? TakeWriteLockAsync(context, command, request, result, cancellationToken)
            : ValueTask.FromResult(result); // every other command: no state machine

    private async ValueTask<InterceptionResult<DbDataReader>> TakeWriteLockAsync(
        DbContext context,
        DbCommand command,
        RowLockRequest request,
        InterceptionResult<DbDataReader> result,
        CancellationToken cancellationToken)
    {
        await WriteLockUpgrade.TakeAsync(context, command, request, dialect, writeLocked, async: true, cancellationToken).ConfigureAwait(false);
        return result;
    }

    public override DbDataReader ReaderExecuted(DbCommand command, CommandExecutedEventData eventData, DbDataReader result)
        => Wrap(command, eventData.Context, result);

    public override ValueTask<DbDataReader> ReaderExecutedAsync(
        DbCommand command,
        CommandExecutedEventData eventData,
        DbDataReader result,
        CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Wrap(command, eventData.Context, result));

    public override void CommandFailed(DbCommand command, CommandErrorEventData eventData)
        => Translate(command, eventData.Exception);

    public override Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Translate(command, eventData.Exception);
        return Task.CompletedTask;
    }

    /// <summary>Refuses a locking command that cannot lock; returns its request (null when it is not one, or a split dependent).</summary>
    private RowLockRequest? Check(DbCommand command)
    {
        if (RowLockCommandTag.Find(command.CommandText) is not { Request: var request, Kind: var kind })
        {
            return null;
        }

        if (kind == RowLockTagKind.Requested && !dialect.TransactionLocksRows)
        {
            throw new InvalidOperationException(
                $"The query on '{request.EntityName}' asks for a row lock ({request.Operator}), but nothing rendered it into the SQL,"
                + " so it would run unlocked. On PostgreSQL, install Concurrency.EntityFrameworkCore.PostgreSQL and call UseRowLocks()"
                + " after UseConcurrency(): options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks().");
        }

        if (command.Transaction is null && System.Transactions.Transaction.Current is null)
        {
            throw new InvalidOperationException(
                $"The query on '{request.EntityName}' takes a row lock ({request.Operator}) but runs outside a transaction, where the"
                + " lock would end with the statement and protect nothing. Call context.Database.BeginTransaction() (or"
                + " BeginTransactionAsync) first, and commit after SaveChanges.");
        }

        return kind == RowLockTagKind.SplitDependent ? null : request;
    }

    /// <summary>
    ///     The reader EF gets: the provider's, unless the rows need translating lock errors (a database that locks row by row,
    ///     where a later row can fail; never with <c>SkipLocked</c>, which does not wait or fail) or refreshing tracked entities.
    /// </summary>
    private DbDataReader Wrap(DbCommand command, DbContext? context, DbDataReader reader)
    {
        if (RowLockCommandTag.Find(command.CommandText) is not { } tag || tag.Kind == RowLockTagKind.SplitDependent)
        {
            return reader;
        }

        var request = tag.Request;
        var translate = !dialect.TransactionLocksRows && request.Wait != RowLockWait.SkipLocked;
        var refresher = context is null
            ? null
            : TrackedRowRefresher.For(context, StateManager(context), tag, session.Loaded, skipOtherShapes: dialect.TransactionLocksRows);
        return translate || refresher is not null
            ? new RowLockDataReader(reader, request, translate ? dialect : null, refresher)
            : reader;
    }

    /// <summary>Throws the mapped exception in place of the database's; EF then surfaces it from the query.</summary>
    private void Translate(DbCommand command, Exception exception)
    {
        if (exception is DbException dbException
            && RowLockCommandTag.Find(command.CommandText) is { Request: var request }
            && RowLockErrors.Translate(dialect, request, dbException) is { } translated)
        {
            throw translated;
        }
    }

    // EF1001: IStateManager is EF's "internal" change tracker service, the one TrackedRowRefresher reads (see there for
    // why); it is only looked up here, once per context instead of on every locking command.
#pragma warning disable EF1001
    /// <summary>The context's change tracker service, resolved on the first locking command of the context.</summary>
    private IStateManager StateManager(DbContext context)
    {
        var cached = _stateManager;
        if (cached is null || !ReferenceEquals(cached.Context, context))
        {
            _stateManager = cached = new ContextStateManager(context, context.GetService<IStateManager>());
        }

        return cached.StateManager;
    }

    /// <summary>A context and its change tracker service, remembered together so a lookup never mixes two contexts.</summary>
    private sealed record ContextStateManager(DbContext Context, IStateManager StateManager);
#pragma warning restore EF1001
}
