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

/// <summary>The conditional variant whose watched property is not changed, on its own table.</summary>
public class ConditionalRowB : Row
{
    [ConditionalVersionField(CheckFields = [nameof(A)])]
    public long Version { get; set; }
}

/// <summary>Tables for the raw Npgsql variants (plain columns; nothing of this library applies).</summary>
public class RawVersionedRow : Row
{
    public long Version { get; set; }
}

public class RawPlainRow : Row
{
    public long Version { get; set; }
}

/// <summary>Own tables for the delete and ExecuteUpdate groups, so no variant's table sees more churn than another's.</summary>
public class DeletePlainRow : Row;

public class DeleteVersionRow : Row
{
    [VersionField]
    public long Version { get; set; }
}

public class BulkPlainRow : Row;

public class BulkVersionRow : Row
{
    [VersionField]
    public long Version { get; set; }
}

public class BulkVersionRowB : Row
{
    [VersionField]
    public long Version { get; set; }
}

public class TriggerRow : Row
{
    [TriggerVersionField]
    public long Version { get; set; }
}

/// <summary>The trigger table that raw Npgsql updates, to show what the trigger itself costs in the database.</summary>
public class RawTriggerRow : Row
{
    [TriggerVersionField]
    public long Version { get; set; }
}

/// <summary>A job of the SKIP LOCKED work queue; one table per variant, refilled with the same 1,000 queued jobs every round.</summary>
public abstract class Job
{
    public const int Queued = 0;
    public const int Done = 2;

    public int Id { get; set; }

    public int Status { get; set; }

    public int Worker { get; set; }
}

public class LockedJob : Job;

public class FromSqlJob : Job;

public class RawJob : Job;

/// <summary>The set-based loop shape (claim ids, one UPDATE by ids): one table per variant.</summary>
public class LockedBulkJob : Job;

/// <summary>The set-based loop shape with the claim as a compiled query (<c>EF.CompileAsyncQuery</c>).</summary>
public class LockedCompiledJob : Job;

public class FromSqlCompiledJob : Job;

public class FromSqlBulkJob : Job;

public class RawBulkJob : Job;

/// <summary>The tracked loop with EF's automatic savepoint switched off.</summary>
public class LockedNoSavepointJob : Job;

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
        modelBuilder.Entity<ConditionalRowB>().ToTable("conditional_rows_b");
        modelBuilder.Entity<RawVersionedRow>().ToTable("raw_versioned_rows");
        modelBuilder.Entity<RawPlainRow>().ToTable("raw_plain_rows");
        modelBuilder.Entity<RawTriggerRow>().ToTable("raw_trigger_rows");
        modelBuilder.Entity<DeletePlainRow>().ToTable("delete_plain_rows");
        modelBuilder.Entity<DeleteVersionRow>().ToTable("delete_version_rows");
        modelBuilder.Entity<BulkPlainRow>().ToTable("bulk_plain_rows");
        modelBuilder.Entity<BulkVersionRow>().ToTable("bulk_version_rows");
        modelBuilder.Entity<BulkVersionRowB>().ToTable("bulk_version_rows_b");
        modelBuilder.Entity<LockedJob>().ToTable("jobs_locked");
        modelBuilder.Entity<FromSqlJob>().ToTable("jobs_fromsql");
        modelBuilder.Entity<RawJob>().ToTable("jobs_raw");
        modelBuilder.Entity<LockedBulkJob>().ToTable("jobs_locked_bulk");
        modelBuilder.Entity<LockedCompiledJob>().ToTable("jobs_locked_compiled");
        modelBuilder.Entity<FromSqlCompiledJob>().ToTable("jobs_fromsql_compiled");
        modelBuilder.Entity<FromSqlBulkJob>().ToTable("jobs_fromsql_bulk");
        modelBuilder.Entity<RawBulkJob>().ToTable("jobs_raw_bulk");
        modelBuilder.Entity<LockedNoSavepointJob>().ToTable("jobs_locked_nosp");
        foreach (var entityType in modelBuilder.Model.GetEntityTypes())
        {
            modelBuilder.Entity(entityType.ClrType).Property(nameof(Row.Id)).ValueGeneratedNever();
        }

        modelBuilder.UseVersioning();
    }
}
