using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>
///     Builds a model without touching a database: the provider is configured (its conventions and SQL generators are
///     what we test against), but no connection is ever opened.
/// </summary>
public sealed class ModelContext(Action<ModelBuilder> configure, bool useConcurrency = true, bool postgres = false) : DbContext
{
    protected override void OnConfiguring(DbContextOptionsBuilder optionsBuilder)
    {
        if (postgres)
        {
            optionsBuilder.UseNpgsql("Host=127.0.0.1;Database=none");
        }
        else
        {
            optionsBuilder.UseSqlite("Data Source=:memory:");
        }

        if (useConcurrency)
        {
            optionsBuilder.UseConcurrency();
        }

        // Every test builds its own model: do not cache one across configurations.
        optionsBuilder.ReplaceService<Microsoft.EntityFrameworkCore.Infrastructure.IModelCacheKeyFactory, NoCache>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => configure(modelBuilder);

    private sealed class NoCache : Microsoft.EntityFrameworkCore.Infrastructure.IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime)
            => Guid.NewGuid();
    }
}

public class Article
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public string Body { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

public class Page
{
    public int Id { get; set; }

    public string Content { get; set; } = "";

    [TriggerVersionField]
    public int Version { get; set; }
}

public class Plain
{
    public int Id { get; set; }

    public string Name { get; set; } = "";

    public long Version { get; set; }

    public string? Label { get; set; }

    public DateTime Stamp { get; set; }

    public long? MaybeVersion { get; set; }
}

public class BadCheck
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    [ConditionalVersionField(CheckFields = ["Titel"])]
    public long Version { get; set; }
}

public class BothLists
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    [ConditionalVersionField(CheckFields = ["Title"], IgnoreFields = ["Title"])]
    public long Version { get; set; }
}

public class TwoVersions
{
    public int Id { get; set; }

    [VersionField]
    public long Version { get; set; }

    [VersionField]
    public long Revision { get; set; }
}

public class BaseWithVersion
{
    public int Id { get; set; }

    [VersionField]
    public long Version { get; set; }
}

public class DerivedWithVersion : BaseWithVersion
{
    [VersionField]
    public long Revision { get; set; }
}
