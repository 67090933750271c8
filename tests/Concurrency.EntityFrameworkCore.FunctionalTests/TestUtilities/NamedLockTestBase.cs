using Concurrency.NamedLockWorker;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

/// <summary>The named-lock worker's model on this fixture's database, and helpers to observe locks.</summary>
public abstract class NamedLockTestBase(Provider provider) : DatabaseTestBase(provider)
{
    /// <summary>A bound on every wait a test does, so that a bug hangs nothing: never a timing assertion.</summary>
    protected static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [OneTimeSetUp]
    public void CreateWorkerTables()
    {
        using var context = CreateWorkerContext();
        context.GetService<IRelationalDatabaseCreator>().CreateTables();
    }

    /// <summary>SQLite: the folder of lock files beside the database file (the database file itself is deleted by the fixture).</summary>
    [OneTimeTearDown]
    public void DeleteLockFiles()
    {
        if (!IsPostgres && new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString).DataSource is { Length: > 0 } file
            && Directory.Exists(file + ".locks"))
        {
            Directory.Delete(file + ".locks", recursive: true);
        }
    }

    protected WorkerContext CreateWorkerContext(params IInterceptor[] interceptors)
    {
        var builder = Database.Configure(new DbContextOptionsBuilder<WorkerContext>()).UseConcurrency();
        if (interceptors.Length > 0)
        {
            builder.AddInterceptors(interceptors);
        }

        return new WorkerContext(builder.Options);
    }

    /// <summary>A lock name no other test uses.</summary>
    protected static string UniqueName(string prefix = "lock")
        => $"{prefix}-{Guid.NewGuid():N}";

    protected static Task<NamedLockHandle> Acquire(DbContext context, string name, bool async, TimeSpan? timeout = null)
        => async ? context.Database.AcquireLockAsync(name, timeout) : Task.FromResult(context.Database.AcquireLock(name, timeout));

    protected static Task<NamedLockHandle?> TryAcquire(DbContext context, string name, bool async, TimeSpan timeout = default)
        => async ? context.Database.TryAcquireLockAsync(name, timeout) : Task.FromResult(context.Database.TryAcquireLock(name, timeout));

    /// <summary>Whether another context can take <paramref name="name" /> right now (taken and released at once if so).</summary>
    protected async Task<bool> IsFree(string name)
    {
        await using var probe = CreateWorkerContext();
        var handle = await probe.Database.TryAcquireLockAsync(name);
        if (handle is null)
        {
            return false;
        }

        await handle.DisposeAsync();
        return true;
    }

    /// <summary>PostgreSQL: the advisory locks held or awaited in this fixture's database, by any backend.</summary>
    protected long AdvisoryLocksInDatabase()
    {
        using var connection = OpenRawConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            + " WHERE l.locktype = 'advisory' AND d.datname = current_database()";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    protected void RequirePostgres(string why)
    {
        if (!IsPostgres)
        {
            Assert.Ignore($"Needs PostgreSQL: {why}");
        }
    }
}
