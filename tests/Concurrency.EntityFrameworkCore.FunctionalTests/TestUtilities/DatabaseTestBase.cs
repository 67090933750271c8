using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

/// <summary>Runs every test of a derived class against a real SQLite file database and a real PostgreSQL database.</summary>
public abstract class DatabaseTestBase(Provider provider) : DatabasePerFixture(provider)
{
    [OneTimeSetUp]
    public void CreateSchema()
    {
        using var context = CreateContext();
        context.Database.EnsureCreated();
    }

    protected DbContextOptionsBuilder<VersionedContext> Configure(DbContextOptionsBuilder<VersionedContext> builder)
        => Database.Configure(builder);

    protected VersionedContext CreateContext(params IInterceptor[] interceptors)
    {
        var builder = Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency();
        if (interceptors.Length > 0)
        {
            builder.AddInterceptors(interceptors);
        }

        return new VersionedContext(builder.Options);
    }

    /// <summary>The object-lock model on this fixture's database; a fixture using it calls <see cref="CreateLockTables" /> once.</summary>
    protected LockContext CreateLockContext(Func<DbContextOptionsBuilder, DbContextOptionsBuilder>? configure = null)
    {
        var builder = Database.Configure(new DbContextOptionsBuilder<LockContext>()).UseConcurrency();
        return new LockContext((configure?.Invoke(builder) ?? builder).Options);
    }

    protected void CreateLockTables()
    {
        using var context = CreateLockContext();
        context.GetService<IRelationalDatabaseCreator>().CreateTables();
    }

    protected DbConnection OpenRawConnection()
        => Database.OpenConnection();

    /// <summary>Runs raw SQL on its own connection, as another client (psql, another service) would.</summary>
    protected int ExecuteRaw(string sql)
        => Database.Execute(sql);

    protected Task<T> Add<T>(T entity)
        where T : class
        => SaveNew(CreateContext(), entity);

    protected static Task<int> Save(DbContext context, bool async)
        => async ? context.SaveChangesAsync() : Task.FromResult(context.SaveChanges());

    protected static Task<RecordModifiedException> ThrowsConflict(DbContext context, bool async)
        => SaveThrows<RecordModifiedException>(context, async);

    /// <summary>Saves and returns the exception of type <typeparamref name="TException" />; fails the test if the save succeeds.</summary>
    protected static async Task<TException> SaveThrows<TException>(DbContext context, bool async)
        where TException : Exception
    {
        try
        {
            await Save(context, async);
        }
        catch (TException exception)
        {
            return exception;
        }

        Assert.Fail($"SaveChanges succeeded, but a {typeof(TException).Name} was expected.");
        throw new InvalidOperationException("unreachable");
    }
}
