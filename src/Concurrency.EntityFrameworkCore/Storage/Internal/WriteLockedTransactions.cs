using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     The transactions of one DbContext known to hold the database's write lock (SQLite), so a locking query takes it
///     only in a transaction that may not hold it yet: one begun deferred, or adopted with <c>UseTransaction</c>. A
///     transaction EF began as <c>BEGIN IMMEDIATE</c> is recorded when it begins, and one upgraded by a locking query when
///     it is upgraded; weak references only (a scoped service, like the context).
/// </summary>
internal sealed class WriteLockedTransactions : IResettableService
{
    private ConditionalWeakTable<DbTransaction, object> _held = new();

    /// <summary>The isolation level of the transaction EF is beginning, between its Starting and Started events.</summary>
    public IsolationLevel? Beginning { get; set; }

    public bool Holds(DbTransaction transaction)
        => _held.TryGetValue(transaction, out _);

    public void Held(DbTransaction transaction)
        => _held.AddOrUpdate(transaction, this);

    /// <summary>
    ///     A transaction EF began: recorded when <paramref name="dialect" /> takes the write lock with its BEGIN at the
    ///     isolation level it began with (<see cref="Beginning" />, set when it was starting). Nothing on a database that
    ///     locks rows (PostgreSQL).
    /// </summary>
    public void Started(DbTransaction transaction, DatabaseDialect dialect)
    {
        if (dialect.WriteLockSql is not null && Beginning is { } level && dialect.BeginTakesWriteLock(level))
        {
            Held(transaction);
        }

        Beginning = null;
    }

    public void ResetState()
    {
        _held = new ConditionalWeakTable<DbTransaction, object>();
        Beginning = null;
    }

    public Task ResetStateAsync(CancellationToken cancellationToken = default)
    {
        ResetState();
        return Task.CompletedTask;
    }
}
