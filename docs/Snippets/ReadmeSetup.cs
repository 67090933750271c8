#region readme-setup
using Concurrency.EntityFrameworkCore;   // [VersionField], RecordModifiedException, DisableConcurrency ...
using Microsoft.EntityFrameworkCore;     // UseConcurrency(), UseVersioning() and the other extension methods

public class Article
{
    public int Id { get; set; }
    public string Title { get; set; } = "";

    [VersionField]                 // int or long
    public long Version { get; set; }
}

public class BlogContext : DbContext
{
    public DbSet<Article> Articles => Set<Article>();

    protected override void OnConfiguring(DbContextOptionsBuilder options)
        => options.UseSqlite("Data Source=blog.db").UseConcurrency();    // after the provider (or UseNpgsql(...))

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}
#endregion
