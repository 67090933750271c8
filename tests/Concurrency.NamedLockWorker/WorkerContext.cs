using Microsoft.EntityFrameworkCore;

namespace Concurrency.NamedLockWorker;

/// <summary>A counter incremented without any version check: only the named lock keeps its updates from being lost.</summary>
public class PlainCounter
{
    public int Id { get; set; }

    public int Value { get; set; }
}

/// <summary>One fencing token, in the order the holders wrote them (Id is assigned under the lock).</summary>
public class TokenEntry
{
    public int Id { get; set; }

    public long Token { get; set; }

    public string Writer { get; set; } = "";
}

/// <summary>A row guarded by fencing tokens: a write carries its token and is applied only if no newer one was seen.</summary>
public class FencedResource
{
    public int Id { get; set; }

    public string Value { get; set; } = "";

    public long LastToken { get; set; }
}

/// <summary>A storage bin with a composite key, for entity locks.</summary>
public class Bin
{
    public int Aisle { get; set; }

    public int Slot { get; set; }
}

public class WorkerContext(DbContextOptions<WorkerContext> options) : DbContext(options)
{
    public DbSet<PlainCounter> PlainCounters => Set<PlainCounter>();

    public DbSet<TokenEntry> TokenEntries => Set<TokenEntry>();

    public DbSet<FencedResource> FencedResources => Set<FencedResource>();

    public DbSet<Bin> Bins => Set<Bin>();

    public static WorkerContext Create(string provider, string connectionString)
    {
        var builder = new DbContextOptionsBuilder<WorkerContext>();
        _ = provider == "postgres" ? builder.UseNpgsql(connectionString) : builder.UseSqlite(connectionString);
        return new WorkerContext(builder.UseConcurrency().Options);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<PlainCounter>().Property(c => c.Id).ValueGeneratedNever();
        modelBuilder.Entity<FencedResource>().Property(c => c.Id).ValueGeneratedNever();
        modelBuilder.Entity<Bin>().HasKey(s => new { s.Aisle, s.Slot });
    }
}
