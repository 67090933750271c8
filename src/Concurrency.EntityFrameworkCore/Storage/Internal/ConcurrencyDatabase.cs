using System.Data.Common;
using System.Linq.Expressions;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Update;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     Wraps the provider's <see cref="IDatabase" /> so that a save which must first read rows under a row lock
///     (<see cref="DisableConcurrency" />, object locks) does so in the same transaction as EF's writes, and, when no
///     transaction was open, begins one and commits it before EF accepts the changes: a failed commit then surfaces as an
///     exception with the changes still pending, never as entities marked saved whose rows were not written.
/// </summary>
/// <remarks>
///     EF calls <see cref="IDatabase.SaveChanges" /> inside its execution strategy, after DetectChanges and before it
///     builds any command, so versions read here still reach the UPDATE statements, and a retrying execution strategy
///     re-runs the read with the writes.
/// </remarks>
internal sealed class ConcurrencyDatabase(
    IDatabase inner,
    SaveSession session,
    ICurrentDbContext currentContext,
    DatabaseDialect dialect) : IDatabase
{
    public int SaveChanges(IList<IUpdateEntry> entries)
    {
        session.DatabaseReached = true;
        return session.PendingReads is null
            ? inner.SaveChanges(entries)
            : SaveWithReadsAsync(entries, async: false, CancellationToken.None).GetAwaiter().GetResult();
    }

    public Task<int> SaveChangesAsync(IList<IUpdateEntry> entries, CancellationToken cancellationToken = default)
    {
        session.DatabaseReached = true;
        return session.PendingReads is null
            ? inner.SaveChangesAsync(entries, cancellationToken)
            : SaveWithReadsAsync(entries, async: true, cancellationToken);
    }

    public Func<QueryContext, TResult> CompileQuery<TResult>(Expression query, bool async)
        => inner.CompileQuery<TResult>(query, async);

    // A decorator must forward every member; this one is marked experimental by EF (precompiled queries).
#pragma warning disable EF9100
    public Expression<Func<QueryContext, TResult>> CompileQueryExpression<TResult>(Expression query, bool async)
        => inner.CompileQueryExpression<TResult>(query, async);
#pragma warning restore EF9100

    private async Task<int> SaveWithReadsAsync(IList<IUpdateEntry> entries, bool async, CancellationToken cancellationToken)
    {
        // Not cleared here: a retrying execution strategy calls this again, and each attempt must read again.
        var reads = session.PendingReads!;
        var database = currentContext.Context.Database;
        IDbContextTransaction? own = null;
        var savepoints = database.AutoSavepointsEnabled;
        try
        {
            if (database.CurrentTransaction is null && System.Transactions.Transaction.Current is null)
            {
                own = async
                    ? await database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false)
                    : database.BeginTransaction();
                database.AutoSavepointsEnabled = false; // a savepoint inside our own transaction would only cost round trips
            }

            try
            {
                await PreSaveRead.ReadAsync(currentContext.Context, session, reads, dialect, async, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException exception)
            {
                throw new DbUpdateException(
                    "The rows this save must check first (their object locks, or their versions inside DisableConcurrency)"
                    + " could not be read under a row lock; nothing was written. See the inner exception.",
                    exception,
                    entries.ToList());
            }

            var result = async
                ? await inner.SaveChangesAsync(entries, cancellationToken).ConfigureAwait(false)
                : inner.SaveChanges(entries);

            if (own is not null)
            {
                try
                {
                    if (async)
                    {
                        await own.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        own.Commit();
                    }
                }
                catch (DbException exception)
                {
                    throw new DbUpdateException(
                        "The transaction of this save could not be committed, so nothing was saved; the changes are still"
                        + " pending in the change tracker. See the inner exception.",
                        exception,
                        entries.ToList());
                }
            }

            return result;
        }
        finally
        {
            if (own is not null)
            {
                database.AutoSavepointsEnabled = savepoints;
                if (async)
                {
                    await own.DisposeAsync().ConfigureAwait(false); // rolls back when not committed
                }
                else
                {
                    own.Dispose();
                }
            }
        }
    }
}
