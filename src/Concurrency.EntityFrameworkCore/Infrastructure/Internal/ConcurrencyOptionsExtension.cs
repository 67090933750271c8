using Concurrency.EntityFrameworkCore.Diagnostics.Internal;
using Concurrency.EntityFrameworkCore.Metadata.Conventions;
using Concurrency.EntityFrameworkCore.Migrations.Internal;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata.Conventions.Infrastructure;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;
using Concurrency.EntityFrameworkCore.Update.Internal;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Concurrency.EntityFrameworkCore.Infrastructure.Internal;

/// <summary>
///     The one options extension of this library: immutable, every option compared when EF decides whether two contexts
///     can share an internal service provider.
/// </summary>
internal sealed class ConcurrencyOptionsExtension : IDbContextOptionsExtension
{
    private ExtensionInfo? _info;

    public ConcurrencyOptionsExtension()
    {
    }

    private ConcurrencyOptionsExtension(ConcurrencyOptionsExtension copyFrom)
    {
        ReadActualVersionOnConflict = copyFrom.ReadActualVersionOnConflict;
        BumpVersionsInExecuteUpdate = copyFrom.BumpVersionsInExecuteUpdate;
    }

    public bool ReadActualVersionOnConflict { get; private init; } = true;

    public bool BumpVersionsInExecuteUpdate { get; private init; } = true;

    public DbContextOptionsExtensionInfo Info
        => _info ??= new ExtensionInfo(this);

    public ConcurrencyOptionsExtension WithReadActualVersionOnConflict(bool fetch)
        => new(this) { ReadActualVersionOnConflict = fetch };

    public ConcurrencyOptionsExtension WithBumpVersionsInExecuteUpdate(bool bump)
        => new(this) { BumpVersionsInExecuteUpdate = bump };

    public void ApplyServices(IServiceCollection services)
    {
        new EntityFrameworkServicesBuilder(services)
            .TryAdd<IConventionSetPlugin, ConcurrencyConventionSetPlugin>()
            .TryAdd<IInterceptor, ConcurrencySaveChangesInterceptor>()
            .TryAdd<IInterceptor, ConcurrencyTransactionInterceptor>()
            .TryAdd<IInterceptor, VersionExecuteUpdateInterceptor>()
            .TryAdd<IInterceptor, RowLockCommandInterceptor>();

        services.TryAddSingleton(sp => DatabaseDialect.For(sp.GetRequiredService<IDatabaseProvider>().Name));
        services.TryAddScoped<SaveSession>();
        services.AddScoped<IResettableService>(sp => sp.GetRequiredService<SaveSession>()); // context pooling resets it
        services.TryAddScoped<WriteLockedTransactions>();
        services.AddScoped<IResettableService>(sp => sp.GetRequiredService<WriteLockedTransactions>());
        services.TryAddScoped<NamedLockRegistry>();
        services.AddScoped<IResettableService>(sp => sp.GetRequiredService<NamedLockRegistry>());
        ServiceDecorator.Decorate<IMigrationsSqlGenerator, VersionTriggerMigrationsSqlGenerator>(services);
        ServiceDecorator.Decorate<IDatabase, ConcurrencyDatabase>(services);
        ServiceDecorator.Decorate<IStructuralTypeMaterializerSource, VersionRecordingMaterializerSource>(services);
        ServiceDecorator.Decorate<IQueryTranslationPreprocessorFactory, RowLockQueryTranslationPreprocessorFactory>(services);
        ServiceDecorator.Decorate<IQueryTranslationPostprocessorFactory, RowLockQueryTranslationPostprocessorFactory>(services);
    }

    public void Validate(IDbContextOptions options)
    {
        // The migrations SQL generator (which adds version triggers to EnsureCreated and migrations) can only wrap the
        // provider's generator if the provider registered it first.
        var extensions = options.Extensions.ToList();
        var providerIndex = extensions.FindIndex(e => e.Info.IsDatabaseProvider);
        var ownIndex = extensions.FindIndex(e => e is ConcurrencyOptionsExtension);
        if (providerIndex > ownIndex && ownIndex >= 0)
        {
            throw new InvalidOperationException(
                "UseConcurrency() was called before the database provider was configured. Call it after the provider, for"
                + " example options.UseNpgsql(connectionString).UseConcurrency() or options.UseSqlite(connectionString).UseConcurrency().");
        }

        if (providerIndex >= 0 && !extensions[providerIndex].GetType().IsAssignableTo(typeof(Microsoft.EntityFrameworkCore.Infrastructure.RelationalOptionsExtension)))
        {
            throw new InvalidOperationException(
                $"UseConcurrency() needs a relational database provider; '{extensions[providerIndex].GetType().Name}' is not one."
                + " Use PostgreSQL (UseNpgsql) or SQLite (UseSqlite); for tests, use a SQLite file or in-memory connection.");
        }

    }

    private sealed class ExtensionInfo(ConcurrencyOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        private new ConcurrencyOptionsExtension Extension
            => (ConcurrencyOptionsExtension)base.Extension;

        public override bool IsDatabaseProvider
            => false;

        public override string LogFragment
            => "using Concurrency ";

        public override int GetServiceProviderHashCode()
            => HashCode.Combine(Extension.ReadActualVersionOnConflict, Extension.BumpVersionsInExecuteUpdate);

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other)
            => other is ExtensionInfo otherInfo
                && Extension.ReadActualVersionOnConflict == otherInfo.Extension.ReadActualVersionOnConflict
                && Extension.BumpVersionsInExecuteUpdate == otherInfo.Extension.BumpVersionsInExecuteUpdate;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo)
        {
            debugInfo["Concurrency:ReadActualVersionOnConflict"] = Extension.ReadActualVersionOnConflict.ToString();
            debugInfo["Concurrency:BumpVersionsInExecuteUpdate"] = Extension.BumpVersionsInExecuteUpdate.ToString();
        }
    }
}
