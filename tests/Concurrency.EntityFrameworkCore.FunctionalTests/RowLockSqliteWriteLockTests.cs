using System.Data.Common;
using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     SQLite has no row locks: the transaction's write lock is the lock. A transaction begun deferred takes it before its
///     first locking query (a write of nothing), waiting as the query's wait mode says.
/// </summary>
public sealed class RowLockSqliteWriteLockTests(Provider provider) : RowLockTestBase(provider)
{
    private const string NeedsSqlite = "Needs SQLite: PostgreSQL locks rows, not the database; its transactions need no upgrade.";

    /// <summary>A context whose transaction was begun deferred on its own connection and adopted with UseTransaction.</summary>
    private (RowLockContext Context, SqliteTransaction Transaction) Deferred(params Microsoft.EntityFrameworkCore.Diagnostics.IInterceptor[] interceptors)
    {
        var context = CreateRowLockContext(interceptors: interceptors);
        var connection = (SqliteConnection)context.Database.GetDbConnection();
        connection.Open();
        var transaction = connection.BeginTransaction(deferred: true);
        context.Database.UseTransaction(transaction);
        return (context, transaction);
    }

    /// <summary>Whether another connection can begin a write transaction now (it waits at most about a second).</summary>
    private bool AnotherWriterCanBegin()
    {
        using var connection = OpenRawConnection();
        using var command = connection.CreateCommand();
        command.CommandTimeout = 1;
        command.CommandText = "BEGIN IMMEDIATE";
        try
        {
            command.ExecuteNonQuery();
            command.CommandText = "ROLLBACK";
            command.ExecuteNonQuery();
            return true;
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 5)
        {
            return false;
        }
    }

    [Test]
    public async Task A_deferred_transaction_takes_the_write_lock_before_its_first_locking_query([Values] bool async)
    {
        if (IsPostgres)
        {
            Assert.Ignore(NeedsSqlite);
        }

        var warehouse = await AddWarehouse("deferred");
        var commands = new CommandCounter();
        var (context, transaction) = Deferred(commands);
        await using (context)
        await using (transaction)
        {
            Assert.That(AnotherWriterCanBegin(), Is.True, "a deferred transaction holds nothing yet");
            var row = (await LoadForUpdate(context, warehouse.Id, async))!;
            Assert.That(AnotherWriterCanBegin(), Is.False, "the locking query took the write lock first");
            Assert.That(commands.Executed[0].Sql, Is.EqualTo("DELETE FROM \"Warehouses\" WHERE 0"), "through EF's pipeline, visible to interceptors");

            commands.Reset();
            await LoadForUpdate(context, warehouse.Id, async);
            Assert.That(commands.Commands, Is.EqualTo(1), "once per transaction");

            row.Stock = 4;
            await Save(context, async);
            transaction.Commit();
        }

        Assert.That(AnotherWriterCanBegin(), Is.True, "the commit released it");
        await using var check = CreateRowLockContext();
        Assert.That((await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock, Is.EqualTo(4));
    }

    [Test]
    public async Task NoWait_and_a_timeout_fail_with_RowLockNotAvailableException_when_another_writer_holds_the_lock(
        [Values] bool async,
        [Values] bool timeout)
    {
        if (IsPostgres)
        {
            Assert.Ignore(NeedsSqlite);
        }

        var warehouse = await AddWarehouse("deferred-busy-" + timeout);
        await using var holder = OpenRawConnection();
        await using var holderTransaction = holder.BeginTransaction();  // BEGIN IMMEDIATE: holds the write lock
        var (context, transaction) = Deferred();
        await using (context)
        await using (transaction)
        {
            var query = context.Warehouses.Where(w => w.Id == warehouse.Id);
            query = timeout ? query.ForUpdate(TimeSpan.FromMilliseconds(500)) : query.ForUpdate(RowLockWait.NoWait);
            var error = await Throws<RowLockNotAvailableException>(() => async ? query.SingleAsync() : Task.FromResult(query.Single()));
            Assert.That(error.Message, Does.Contain("Warehouse").And.Contain("BeginTransaction()"));
            Assert.That(error.InnerException, Is.InstanceOf<SqliteException>());
            Assert.That(context.Database.GetCommandTimeout(), Is.Null, "the context's command timeout is restored");
        }
    }

    [Test]
    public async Task A_transaction_begun_through_EF_already_holds_the_lock_and_sends_nothing_more([Values] bool async)
    {
        if (IsPostgres)
        {
            Assert.Ignore(NeedsSqlite);
        }

        var warehouse = await AddWarehouse("immediate");
        var commands = new CommandCounter();
        await using var context = CreateRowLockContext(interceptors: commands);
        await using var transaction = await Begin(context, async);
        Assert.That(AnotherWriterCanBegin(), Is.False, "BEGIN IMMEDIATE");
        commands.Reset();
        await LoadForUpdate(context, warehouse.Id, async);
        Assert.That(commands.Executed.Select(c => c.Sql), Has.None.StartsWith("DELETE"));
    }

    [Test]
    public async Task A_raw_BEGIN_is_refused_naming_BeginTransaction([Values] bool async)
    {
        if (IsPostgres)
        {
            Assert.Ignore(NeedsSqlite);
        }

        var warehouse = await AddWarehouse("raw-begin");
        await using var context = CreateRowLockContext();
        await context.Database.OpenConnectionAsync();
        await context.Database.ExecuteSqlRawAsync("BEGIN");
        try
        {
            var error = await Throws<InvalidOperationException>(() => LoadForUpdate(context, warehouse.Id, async));
            Assert.That(error.Message, Does.Contain("BeginTransaction()").And.Contain("Warehouse"));
        }
        finally
        {
            await context.Database.ExecuteSqlRawAsync("ROLLBACK");   // a pooled connection must not keep the transaction
        }
    }
}
