using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Benchmarks;

/// <summary>One table of six columns per variant, so every variant writes the same shape of row.</summary>
public abstract class Row
{
    public int Id { get; set; }

    public string A { get; set; } = "";

    public string B { get; set; } = "";

    public int C { get; set; }

    public DateTime D { get; set; }
}

/// <summary>Baseline: no concurrency token.</summary>
public class PlainRow : Row;

/// <summary>What users write today: an int token the application increments by hand.</summary>
public class TokenRow : Row
{
    public int Version { get; set; }
}

/// <summary>PostgreSQL's system column xmin as a row version.</summary>
public class XminRow : Row
{
    public uint Version { get; set; }
}

public class VersionRow : Row
{
    [VersionField]
    public long Version { get; set; }
}

public class ConditionalRow : Row
{
    [ConditionalVersionField(CheckFields = [nameof(A)])]
    public long Version { get; set; }
}

public class TriggerRow : Row
{
    [TriggerVersionField]
    public long Version { get; set; }
}

public sealed class BenchContext(DbContextOptions<BenchContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<PlainRow>().ToTable("plain_rows");
        modelBuilder.Entity<TokenRow>().ToTable("token_rows").Property(r => r.Version).IsConcurrencyToken();
        modelBuilder.Entity<XminRow>().ToTable("xmin_rows").Property(r => r.Version).IsRowVersion();
        modelBuilder.Entity<VersionRow>().ToTable("version_rows");
        modelBuilder.Entity<ConditionalRow>().ToTable("conditional_rows");
        modelBuilder.Entity<TriggerRow>().ToTable("trigger_rows");
        foreach (var entityType in modelBuilder.Model.GetEntityTypes())
        {
            modelBuilder.Entity(entityType.ClrType).Property(nameof(Row.Id)).ValueGeneratedNever();
        }

        modelBuilder.UseVersioning();
    }
}
