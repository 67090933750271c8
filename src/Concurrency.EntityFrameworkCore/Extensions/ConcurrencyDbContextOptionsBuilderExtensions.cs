using Concurrency.EntityFrameworkCore.Diagnostics.Internal;
using Concurrency.EntityFrameworkCore.Infrastructure;
using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Turns on Concurrency for a DbContext.</summary>
public static class ConcurrencyDbContextOptionsBuilderExtensions
{
    /// <summary>
    ///     Turns on optimistic concurrency: version fields are incremented and checked on every SaveChanges, stale writes
    ///     throw <c>RecordModifiedException</c>, <c>ExecuteUpdate</c> bumps versions, and version triggers are created with
    ///     the schema. Call it after the database provider, for example
    ///     <c>options.UseNpgsql(connectionString).UseConcurrency()</c>.
    /// </summary>
    /// <param name="optionsBuilder">The builder being used to configure the context.</param>
    /// <param name="configure">Optional further configuration.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static DbContextOptionsBuilder UseConcurrency(
        this DbContextOptionsBuilder optionsBuilder,
        Action<ConcurrencyOptionsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(optionsBuilder);
        var extension = optionsBuilder.Options.FindExtension<ConcurrencyOptionsExtension>() ?? new ConcurrencyOptionsExtension();
        ((IDbContextOptionsBuilderInfrastructure)optionsBuilder).AddOrUpdateExtension(extension);
        configure?.Invoke(new ConcurrencyOptionsBuilder(optionsBuilder));
        return optionsBuilder;
    }

    /// <inheritdoc cref="UseConcurrency(DbContextOptionsBuilder, Action{ConcurrencyOptionsBuilder})" />
    public static DbContextOptionsBuilder<TContext> UseConcurrency<TContext>(
        this DbContextOptionsBuilder<TContext> optionsBuilder,
        Action<ConcurrencyOptionsBuilder>? configure = null)
        where TContext : DbContext
        => (DbContextOptionsBuilder<TContext>)UseConcurrency((DbContextOptionsBuilder)optionsBuilder, configure);
}
