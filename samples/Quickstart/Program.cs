// Quickstart: five scenarios on a SQLite file, each printed as it happens.
//   1. Two editors load the same article; the first saves; the second gets a RecordModifiedException.
//   2. The same stale save inside a DisableConcurrency scope: last write wins, the version still goes up.
//   3. A raw SQL UPDATE (another client, no EF) is caught by a trigger-maintained version.
//   4. The select_for_update taxonomy import (find by remote id, else by slug, update or create) run by two workers at
//      once over the same remote data: UpdateOrCreateAsync creates every row once, no duplicates.
//   5. A nightly import started by two processes at once: each takes the named lock "nightly-import" first, so the
//      second waits for the first, then finds the work done (NightlyImport.cs).
//
// Run:  dotnet run --project samples/Quickstart            (SQLite file quickstart.db, recreated on every run)
//       dotnet run --project samples/Quickstart -- --ConnectionStrings:Default="Host=...;Database=...;Username=..."
//       (PostgreSQL with UseRowLocks(); the database named is DROPPED and recreated, so name a scratch one)
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

var connectionString = args
    .Where(a => a.StartsWith("--ConnectionStrings:Default=", StringComparison.OrdinalIgnoreCase))
    .Select(a => a["--ConnectionStrings:Default=".Length..].Trim('"'))
    .LastOrDefault();
if (connectionString is null)
{
    var path = Path.Combine(AppContext.BaseDirectory, "quickstart.db");
    File.Delete(path);
    connectionString = $"Data Source={path}";
}

if (NightlyImport.WorkerName(args) is { } worker)
{
    return await NightlyImport.RunWorkerAsync(connectionString, worker); // scenario 5's child processes
}

await using (var setup = new BlogContext(connectionString))
{
    if (BlogContext.IsPostgreSql(connectionString))
    {
        await setup.Database.EnsureDeletedAsync();
    }

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

Console.WriteLine();
Console.WriteLine("4. The taxonomy import (select_for_update seed) from two workers at once");
var remoteItems = Enumerable.Range(1, 8)
    .Select(i => new RemoteTaxonomy($"remote-{i}", $"topic-{i}", $"Topic {i}"))
    .ToList();
await using (var seed = new BlogContext(connectionString))
{
    // Rows made by hand before the import existed: they have the slug but no remote id, so only the slug finds them.
    seed.Taxonomies.AddRange(
        new Taxonomy { Slug = "topic-3", Name = "Old topic 3" },
        new Taxonomy { Slug = "topic-6", Name = "Old topic 6" });
    await seed.SaveChangesAsync();
}

Console.WriteLine($"   {remoteItems.Count} remote items; 2 rows already exist with a slug and no remote id (found by the slug fallback).");
const int workers = 2;
using var startTogether = new Barrier(workers); // both workers import each item at the same moment: the worst case
var results = await Task.WhenAll(Enumerable.Range(1, workers).Select(_ => Task.Run(async () =>
{
    await using var db = new BlogContext(connectionString); // each worker has its own context and connection
    var created = 0;
    foreach (var remote in remoteItems)
    {
        startTogether.SignalAndWait();
        if ((await ImportAsync(db, remote)).Created)
        {
            created++;
        }
    }

    return created;
})));
Console.WriteLine($"   Worker 1 created {results[0]} rows, worker 2 created {results[1]}; every other call updated a row.");

await using (var check = new BlogContext(connectionString))
{
    var rows = await check.Taxonomies.AsNoTracking().ToListAsync();
    var duplicates = rows.Count - rows.Select(t => t.RemoteId).Distinct().Count()
                     + rows.Count - rows.Select(t => t.Slug).Distinct().Count();
    var unmatched = rows.Count(t => t.RemoteId is null || t.Name.StartsWith("Old", StringComparison.Ordinal));
    Console.WriteLine($"   {remoteItems.Count} remote items, {workers} workers, {rows.Count} rows, {duplicates} duplicates.");
    if (rows.Count != remoteItems.Count || duplicates != 0 || unmatched != 0 || results.Sum() != remoteItems.Count - 2)
    {
        Console.WriteLine("   The import made duplicates or missed rows. (This should not happen.)");
        return 1;
    }
}

Console.WriteLine();
Console.WriteLine("5. A nightly import started by two processes at once, under a named lock");
if (!await NightlyImport.RunTwoProcessesAsync(connectionString))
{
    return 1;
}

return 0;

// The seed's update_or_create_from_remote_taxonomy: find by remote id, else by slug, under a row lock; update or create.
static Task<(Taxonomy Entity, bool Created)> ImportAsync(BlogContext db, RemoteTaxonomy remote)
    => db.Taxonomies.UpdateOrCreateAsync(
        [t => t.RemoteId == remote.Id, t => t.Slug == remote.Slug], // tried in order, under a row lock
        t =>
        {
            t.RemoteId = remote.Id;
            t.Name = remote.Name;
        },
        () => new Taxonomy { RemoteId = remote.Id, Slug = remote.Slug, Name = remote.Name });

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

/// <summary>A taxonomy term kept in step with a remote source (the seed's importer).</summary>
public class Taxonomy
{
    public int Id { get; set; }

    /// <summary>The remote source's id; null for rows made before the import (deliberately no unique index).</summary>
    public string? RemoteId { get; set; }

    public string Slug { get; set; } = "";

    public string Name { get; set; } = "";

    [VersionField]
    public long Version { get; set; }
}

/// <summary>One item of the remote source.</summary>
public record RemoteTaxonomy(string Id, string Slug, string Name);

/// <summary>The sample's context: SQLite (or PostgreSQL with row locks) plus Concurrency.</summary>
public class BlogContext(string connectionString) : DbContext
{
    public DbSet<Article> Articles => Set<Article>();

    public DbSet<Page> Pages => Set<Page>();

    public DbSet<Taxonomy> Taxonomies => Set<Taxonomy>();

    public DbSet<ImportRun> ImportRuns => Set<ImportRun>();

    public static bool IsPostgreSql(string connectionString)
        => connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase);

    protected override void OnConfiguring(DbContextOptionsBuilder optionsBuilder)
    {
        if (IsPostgreSql(connectionString))
        {
            optionsBuilder.UseNpgsql(connectionString).UseConcurrency().UseRowLocks();
        }
        else
        {
            optionsBuilder.UseSqlite(connectionString).UseConcurrency();
        }
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
        => modelBuilder.UseVersioning();
}
