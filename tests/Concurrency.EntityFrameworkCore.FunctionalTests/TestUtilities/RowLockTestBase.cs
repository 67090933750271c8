using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

/// <summary>The row-lock model on this fixture's database, and helpers to hold, wait for and observe row locks.</summary>
public abstract class RowLockTestBase(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateRowLockTables()
    {
        using var context = CreateRowLockContext();
        context.GetService<IRelationalDatabaseCreator>().CreateTables();
    }

    protected RowLockContext CreateRowLockContext(bool renderLocks = true, params IInterceptor[] interceptors)
    {
        var builder = Database.Configure(new DbContextOptionsBuilder<RowLockContext>()).UseConcurrency();
        if (renderLocks && IsPostgres)
        {
            builder.UseRowLocks();
        }

        if (interceptors.Length > 0)
        {
            builder.AddInterceptors(interceptors);
        }

        return new RowLockContext(builder.Options);
    }

    protected async Task<Warehouse> AddWarehouse(string name, bool withManager = false, int shelves = 0)
    {
        var warehouse = new Warehouse { Name = name, Manager = withManager ? new Manager { Name = "m-" + name } : null };
        warehouse.Shelves.AddRange(Enumerable.Range(0, shelves).Select(i => new Shelf { Label = $"{name}-{i}" }));
        return await SaveNew(CreateRowLockContext(), warehouse);
    }

    protected static Task<Warehouse?> LoadForUpdate(RowLockContext context, int id, bool async, RowLockWait wait = RowLockWait.Block)
    {
        var query = context.Warehouses.Where(w => w.Id == id).ForUpdate(wait);
        return async ? query.SingleOrDefaultAsync() : Task.FromResult(query.SingleOrDefault());
    }

    protected static Task<IDbContextTransaction> Begin(DbContext context, bool async)
        => async ? context.Database.BeginTransactionAsync() : Task.FromResult(context.Database.BeginTransaction());

    /// <summary>PostgreSQL: waits (bounded) until another backend of this database waits for a lock.</summary>
    protected async Task WaitUntilSomeoneWaitsForALock()
    {
        await using var connection = OpenRawConnection();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
        for (var i = 0; i < 400; i++)
        {
            if (Convert.ToInt64(await command.ExecuteScalarAsync()) > 0)
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.Fail("No connection started waiting for a lock within 10 s.");
    }

    protected static async Task<TException> Throws<TException>(Func<Task> action)
        where TException : Exception
    {
        try
        {
            await action();
        }
        catch (TException exception)
        {
            return exception;
        }

        Assert.Fail($"Expected {typeof(TException).Name}.");
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>PostgreSQL: whether another connection finds the warehouse row locked (FOR UPDATE NOWAIT fails).</summary>
    protected bool RowIsLocked(string table, int id)
    {
        try
        {
            ExecuteRaw($"SELECT 1 FROM \"{table}\" WHERE \"Id\" = {id} FOR UPDATE NOWAIT");
            return false;
        }
        catch (DbException e) when (e.SqlState == "55P03")
        {
            return true;
        }
    }

    /// <summary>A context of its own with a transaction begun: another client of the database.</summary>
    protected async Task<Session> OpenSession(bool async)
    {
        var context = CreateRowLockContext();
        return new Session(context, await Begin(context, async));
    }

    /// <summary>A session that holds the warehouse's row lock (ForUpdate) until it is disposed or committed.</summary>
    protected async Task<Session> Hold(int warehouseId, bool async)
    {
        var session = await OpenSession(async);
        await LoadForUpdate(session.Context, warehouseId, async);
        return session;
    }

    /// <summary>A context and its transaction, disposed together (the transaction rolls back unless committed).</summary>
    protected sealed record Session(RowLockContext Context, IDbContextTransaction Transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Context.DisposeAsync();
        }
    }
}
