using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

public class Warehouse
{
    public int Id { get; set; }

    public string Name { get; set; } = "";

    public int Stock { get; set; }

    public int? ManagerId { get; set; }

    public Manager? Manager { get; set; }

    public List<Shelf> Shelves { get; set; } = [];

    [VersionField]
    public long Version { get; set; }
}

public class Manager
{
    public int Id { get; set; }

    public string Name { get; set; } = "";
}

public class Shelf
{
    public int Id { get; set; }

    public int WarehouseId { get; set; }

    public string Label { get; set; } = "";
}

public class Job
{
    public int Id { get; set; }

    public string Status { get; set; } = "queued";

    public int Runs { get; set; }
}

/// <summary>The seed's taxonomy: imported from a remote system, found by remote id, else by slug.</summary>
public class Taxon
{
    public int Id { get; set; }

    public string? RemoteId { get; set; }

    public string Slug { get; set; } = "";

    public int Imports { get; set; }
}

/// <summary>The row-lock model: a root with a nullable reference and a collection, and a job queue.</summary>
public class RowLockContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Warehouse> Warehouses => Set<Warehouse>();

    public DbSet<Manager> Managers => Set<Manager>();

    public DbSet<Shelf> Shelves => Set<Shelf>();

    public DbSet<Job> Jobs => Set<Job>();

    public DbSet<Taxon> Taxa => Set<Taxon>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.UseVersioning();
        modelBuilder.Entity<Taxon>().HasIndex(t => t.RemoteId).IsUnique();
    }
}
