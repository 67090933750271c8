// Quickstart: three scenarios on a SQLite file, each printed as it happens.
//   1. Two editors load the same article; the first saves; the second gets a RecordModifiedException.
//   2. The same stale save inside a DisableConcurrency scope: last write wins, the version still goes up.
//   3. A raw SQL UPDATE (another client, no EF) is caught by a trigger-maintained version.
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

var path = Path.Combine(AppContext.BaseDirectory, "quickstart.db");
File.Delete(path);
var connectionString = $"Data Source={path}";

await using (var setup = new BlogContext(connectionString))
{
    await setup.Database.EnsureCreatedAsync();
    setup.Add(new Article { Title = "Hello" });
    setup.Add(new Page { Content = "About us" });
    await setup.SaveChangesAsync();
}

Console.WriteLine("1. Two editors, one row");
await using (var alice = new BlogContext(connectionString))
await using (var bob = new BlogContext(connectionString))
{
    var fromAlice = await alice.Articles.SingleAsync();
    var fromBob = await bob.Articles.SingleAsync();
    Console.WriteLine($"   Alice and Bob both loaded version {fromAlice.Version}.");

    fromAlice.Title = "Hello from Alice";
    await alice.SaveChangesAsync();
    Console.WriteLine($"   Alice saved; the row is now at version {fromAlice.Version}.");

    fromBob.Title = "Hello from Bob";
    try
    {
        await bob.SaveChangesAsync();
        Console.WriteLine("   Bob saved: his edit silently replaced Alice's. (This should not happen.)");
        return 1;
    }
    catch (RecordModifiedException e)
    {
        Console.WriteLine($"   Bob's save was refused: {e.Message}");
    }

    Console.WriteLine();
    Console.WriteLine("2. The same stale save inside DisableConcurrency (a bulk job)");
    using (new DisableConcurrency())
    {
        await bob.SaveChangesAsync();
    }

    Console.WriteLine($"   Bob's save went through (last write wins); the version went on to {fromBob.Version}.");
}

Console.WriteLine();
Console.WriteLine("3. A raw SQL UPDATE from another client, caught by a trigger version");
await using (var editor = new BlogContext(connectionString))
await using (var other = new BlogContext(connectionString))
{
    var page = await editor.Pages.SingleAsync();
    Console.WriteLine($"   The editor loaded the page at version {page.Version}.");
    await other.Database.ExecuteSqlRawAsync("UPDATE \"Pages\" SET \"Content\" = 'Changed in a SQL console'");
    Console.WriteLine("   Someone ran: UPDATE \"Pages\" SET \"Content\" = 'Changed in a SQL console'  (the trigger bumped the version)");

    page.Content = "About us, edited";
    try
    {
        await editor.SaveChangesAsync();
        Console.WriteLine("   The editor saved over the SQL change. (This should not happen.)");
        return 1;
    }
    catch (RecordModifiedException e)
    {
        Console.WriteLine($"   The editor's save was refused: {e.Message}");
    }
}

return 0;

/// <summary>An article with an application-maintained version.</summary>
public class Article
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

/// <summary>A page whose version a database trigger maintains, so edits from any client count.</summary>
public class Page
{
    public int Id { get; set; }

    public string Content { get; set; } = "";

    [TriggerVersionField]
    public long Version { get; set; }
}

/// <summary>The sample's context: SQLite plus Concurrency.</summary>
public class BlogContext(string connectionString) : DbContext
{
    public DbSet<Article> Articles => Set<Article>();

    public DbSet<Page> Pages => Set<Page>();

    protected override void OnConfiguring(DbContextOptionsBuilder optionsBuilder)
        => optionsBuilder.UseSqlite(connectionString).UseConcurrency();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}
