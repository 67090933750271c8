using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Concurrency.EntityFrameworkCore.PostgreSQL.Query.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Concurrency.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal;

// EF1001: ConcurrencyOptionsExtension is this library's own internal type (same release); NpgsqlOptionsExtension is the
// Npgsql provider's options, the only way to tell from the options that the provider is Npgsql.
#pragma warning disable EF1001

/// <summary>
///     Registered by <c>UseRowLocks()</c>: replaces Npgsql's query SQL generator factory with one whose generator renders
///     row locks. It has no options, so every context with it shares one service provider.
/// </summary>
internal sealed class RowLockOptionsExtension : IDbContextOptionsExtension
{
    private ExtensionInfo? _info;

    public DbContextOptionsExtensionInfo Info
        => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
        // A replacement, not TryAdd: Npgsql registered its factory already (Validate checks UseNpgsql came first), and the
        // generator must be Npgsql's own subclass, so decorating the provider's factory would not help.
        => services.Replace(ServiceDescriptor.Singleton<IQuerySqlGeneratorFactory, RowLockQuerySqlGeneratorFactory>());

    public void Validate(IDbContextOptions options)
    {
        var extensions = options.Extensions.ToList();
        var provider = extensions.FindIndex(e => e.Info.IsDatabaseProvider);
        var own = extensions.FindIndex(e => e is RowLockOptionsExtension);
        if (provider < 0 || provider > own || options.FindExtension<Npgsql.EntityFrameworkCore.PostgreSQL.Infrastructure.Internal.NpgsqlOptionsExtension>() is null)
        {
            throw new InvalidOperationException(
                "UseRowLocks() renders PostgreSQL row locks and needs the Npgsql provider configured before it:"
                + " options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks().");
        }

        if (options.FindExtension<ConcurrencyOptionsExtension>() is null)
        {
            throw new InvalidOperationException(
                "UseRowLocks() needs UseConcurrency(), which checks that locking queries run in a transaction and maps lock errors:"
                + " options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks().");
        }
    }

    private sealed class ExtensionInfo(IDbContextOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider
            => false;

        public override string LogFragment
            => "using RowLocks ";

        public override int GetServiceProviderHashCode()
            => 0;

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other)
            => other is ExtensionInfo;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo)
            => debugInfo["Concurrency:RowLocks"] = "1";
    }
}
