using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>Named-lock calls refused before any database is reached: a provider without lock support.</summary>
public sealed class NamedLockArgumentTests
{
    [Test]
    public async Task A_provider_without_named_locks_is_refused_with_its_name()
    {
        var options = new DbContextOptionsBuilder()
            .UseSqlite("Data Source=:memory:")
            .UseConcurrency()
            .ReplaceService<IDatabaseProvider, OtherProvider>()
            .Options;
        await using var context = new DbContext(options);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => context.Database.AcquireLockAsync("x"));
        Assert.That(error!.Message, Does.Contain("'Other.Provider'").And.Contain("PostgreSQL").And.Contain("SQLite"));
        Assert.Throws<NotSupportedException>(() => context.Database.AcquireTransactionLock("x"));
    }

    [Test]
    public async Task The_entity_lock_takes_issue_12s_positional_arguments_and_reload_by_name()
    {
        await using var context = new DbContext(new DbContextOptionsBuilder().UseSqlite("Data Source=:memory:").UseConcurrency().Options);
        var entity = new object();

        // (entity, timeout, cancellationToken) positionally, as the contract states; reload only by name. An entity of a
        // type the model does not map is refused before anything is locked.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => context.AcquireLockAsync(entity, TimeSpan.Zero, CancellationToken.None));
        Assert.That(error!.Message, Does.Contain("'object'"));
        await Assert.ThatAsync(() => context.AcquireLockAsync(entity, TimeSpan.Zero, CancellationToken.None, reload: false), Throws.InvalidOperationException);
    }

    private sealed class OtherProvider : IDatabaseProvider
    {
        public string Name
            => "Other.Provider";

        public string? Version
            => null;

        public bool IsConfigured(IDbContextOptions options)
            => true;
    }
}
