using Concurrency.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Turns on PostgreSQL row locks (<c>ForUpdate()</c> and its siblings) for a DbContext.</summary>
public static class ConcurrencyRowLockDbContextOptionsBuilderExtensions
{
    /// <summary>
    ///     Renders the row locks that <c>ForUpdate()</c>, <c>ForNoKeyUpdate()</c>, <c>ForShare()</c> and <c>ForKeyShare()</c>
    ///     ask for as PostgreSQL locking clauses (<c>FOR UPDATE OF "root alias"</c>) in the SQL EF generates. Call it after
    ///     the provider and <c>UseConcurrency()</c>: <c>options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks()</c>.
    ///     Without it, a locking query on PostgreSQL fails with a message naming this call, rather than running unlocked.
    /// </summary>
    /// <param name="optionsBuilder">The builder being used to configure the context.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static DbContextOptionsBuilder UseRowLocks(this DbContextOptionsBuilder optionsBuilder)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        var extension = optionsBuilder.Options.FindExtension<RowLockOptionsExtension>() ?? new RowLockOptionsExtension();
        ((IDbContextOptionsBuilderInfrastructure)optionsBuilder).AddOrUpdateExtension(extension);
        return optionsBuilder;
    }

    /// <inheritdoc cref="UseRowLocks(DbContextOptionsBuilder)" />
    public static DbContextOptionsBuilder<TContext> UseRowLocks<TContext>(this DbContextOptionsBuilder<TContext> optionsBuilder)
        where TContext : DbContext
        => (DbContextOptionsBuilder<TContext>)UseRowLocks((DbContextOptionsBuilder)optionsBuilder);
}
