using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.Snippets.ObjectLocks;

#region object-locks-invoice
public class Invoice : ILockable
{
    public int Id { get; set; }
    public decimal Amount { get; set; }
    public bool IsLocked { get; set; }            // the lock
    [VersionField] public long Version { get; set; }
}
#endregion

#region object-locks-ticket
public class Ticket : ILeasedLockable
{
    public int Id { get; set; }
    public string Title { get; set; } = "";
    public bool IsLocked { get; set; }
    public string? LockedBy { get; set; }
    public DateTimeOffset? LockedAt { get; set; }
    public DateTimeOffset? LockExpiresAt { get; set; }
}
#endregion

#region object-locks-derived
public class Article : ILockable
{
    public int Id { get; set; }
    public bool IsLocked { get; set; }
    public List<Section> Sections { get; set; } = [];
}

public class Section
{
    public int Id { get; set; }
    public string Text { get; set; } = "";
    public int ArticleId { get; set; }
    public Article Article { get; set; } = null!;
}

public class BlogContext(DbContextOptions options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.Entity<Section>().HasObjectLockFrom(s => s.Article);   // locked whenever its article is
}
#endregion

public static class ObjectLocks
{
    public static async Task LockAsync(DbContext context, Invoice invoice)
    {
        #region object-locks-lock
        await context.LockAsync(invoice);                 // ObjectAlreadyLockedException if it already is
        invoice.Amount = 0;
        await context.SaveChangesAsync();                 // ObjectLockedException: nothing written
        await context.UnlockAsync(invoice);               // ObjectAlreadyUnlockedException if it is not
        #endregion
    }

    public static async Task LeaseAsync(DbContext context, Ticket ticket)
    {
        #region object-locks-lease
        using (ObjectLockOwner.Use("alice"))
        {
            await context.LockAsync(ticket, lease: TimeSpan.FromMinutes(15));
            ticket.Title = "fixed";
            await context.SaveChangesAsync();             // the owner may keep editing
        }
        #endregion
    }
}
