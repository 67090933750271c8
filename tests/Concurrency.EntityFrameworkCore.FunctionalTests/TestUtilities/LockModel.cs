using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;

/// <summary>A lockable entity with a version field (django-object-lock's plain lock).</summary>
public class Post : ILockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsLocked { get; set; }

    [VersionField]
    public long Version { get; set; }
}

/// <summary>A lockable entity with an owner and a lease, and no version field: locks work on their own.</summary>
public class Ticket : ILeasedLockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsLocked { get; set; }

    public string? LockedBy { get; set; }

    public DateTimeOffset? LockedAt { get; set; }

    public DateTimeOffset? LockExpiresAt { get; set; }
}

/// <summary>A class that does not implement ILockable, locked through fluent configuration.</summary>
public class Folder
{
    public int Id { get; set; }

    public string Name { get; set; } = "";

    public bool Frozen { get; set; }
}

public class LockContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Post> Posts => Set<Post>();

    public DbSet<Ticket> Tickets => Set<Ticket>();

    public DbSet<Folder> Folders => Set<Folder>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Folder>().HasObjectLock(f => f.Frozen);
        modelBuilder.UseVersioning();
    }
}
