#region readme-setup-postgres
using Microsoft.EntityFrameworkCore;     // UseNpgsql(), UseConcurrency(), UseRowLocks()

public class PostgresBlogContext(string connectionString) : DbContext
{
    public DbSet<Article> Articles => Set<Article>();

    protected override void OnConfiguring(DbContextOptionsBuilder options)
        => options.UseNpgsql(connectionString).UseConcurrency().UseRowLocks();   // in this order

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}
#endregion
