using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.ObjectLocks;

/// <summary>A lockable principal with an owner and a lease (django-object-lock's Article).</summary>
public class Book : ILeasedLockable
{
    public int Id { get; set; }

    public string Title { get; set; } = "";

    public bool IsLocked { get; set; }

    public string? LockedBy { get; set; }

    public DateTimeOffset? LockedAt { get; set; }

    public DateTimeOffset? LockExpiresAt { get; set; }
}

/// <summary>Locked whenever its book is (django-object-lock's ArticleSection).</summary>
public class Chapter
{
    public int Id { get; set; }

    public string Text { get; set; } = "";

    public int? BookId { get; set; }

    public Book? Book { get; set; }
}

/// <summary>Locked whenever its chapter's book is: a chain of two.</summary>
public class Paragraph
{
    public int Id { get; set; }

    public string Text { get; set; } = "";

    public int ChapterId { get; set; }

    public Chapter Chapter { get; set; } = null!;
}

public class LibraryContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Book> Books => Set<Book>();

    public DbSet<Chapter> Chapters => Set<Chapter>();

    public DbSet<Paragraph> Paragraphs => Set<Paragraph>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Chapter>().HasObjectLockFrom(c => c.Book);
        modelBuilder.Entity<Paragraph>().HasObjectLockFrom(p => p.Chapter);
    }
}

/// <summary>
///     Locks derived from a principal: a chapter of a locked book (or a paragraph of such a chapter) is neither added,
///     updated, moved nor deleted, checked against the database at save time under a share lock, so a lock taken
///     concurrently is either waited for or seen.
/// </summary>
public sealed class DerivedLockTests(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateLibraryTables()
    {
        using var context = Library();
        context.GetService<IRelationalDatabaseCreator>().CreateTables();
    }

    private LibraryContext Library()
        => new(
            (IsPostgres
                ? new DbContextOptionsBuilder<LibraryContext>().UseNpgsql(ConnectionString)
                : new DbContextOptionsBuilder<LibraryContext>().UseSqlite(ConnectionString))
            .UseConcurrency()
            .Options);

    private async Task<(int Book, int Chapter, int Paragraph)> AddBook(bool locked = false)
    {
        await using var context = Library();
        var book = new Book { Title = "book" };
        var chapter = new Chapter { Text = "chapter", Book = book };
        var paragraph = new Paragraph { Text = "paragraph", Chapter = chapter };
        context.Add(paragraph);
        await context.SaveChangesAsync();
        if (locked)
        {
            await context.LockAsync(book);
        }

        return (book.Id, chapter.Id, paragraph.Id);
    }

    private async Task<(string Chapter, string Paragraph, int Chapters)> Stored(int bookId, int chapterId, int paragraphId)
    {
        await using var context = Library();
        var chapter = await context.Chapters.AsNoTracking().SingleOrDefaultAsync(c => c.Id == chapterId);
        var paragraph = await context.Paragraphs.AsNoTracking().SingleOrDefaultAsync(p => p.Id == paragraphId);
        return (chapter?.Text ?? "(gone)", paragraph?.Text ?? "(gone)", await context.Chapters.CountAsync(c => c.BookId == bookId));
    }

    [Test]
    public async Task A_chapter_of_an_unlocked_book_saves_and_of_a_locked_one_is_refused([Values] bool async)
    {
        var (book, chapter, paragraph) = await AddBook();
        await using (var context = Library())
        {
            (await context.Chapters.SingleAsync(c => c.Id == chapter)).Text = "edited while unlocked";
            await Save(context, async);
        }

        await using (var locker = Library())
        {
            await locker.LockAsync(await locker.Books.SingleAsync(b => b.Id == book));
        }

        await using var stale = Library();
        var loaded = await stale.Chapters.SingleAsync(c => c.Id == chapter);
        loaded.Text = "edited while locked";
        var exception = await SaveThrows<ObjectLockedException>(stale, async);
        Assert.That(exception.Message, Does.StartWith($"Chapter(Id={chapter}) cannot be updated: Book(Id={book}) is locked"));
        Assert.That(exception.LockedThrough, Is.EqualTo($"Book(Id={book})"));
        Assert.That(exception.EntityType, Is.EqualTo(typeof(Chapter)));
        Assert.That(await Stored(book, chapter, paragraph), Is.EqualTo(("edited while unlocked", "paragraph", 1)));
    }

    [Test]
    public async Task Adding_deleting_or_moving_a_chapter_of_a_locked_book_is_refused([Values] bool async, [Values("add", "delete", "move-out", "move-in")] string action)
    {
        var (locked, chapter, paragraph) = await AddBook(locked: true);
        var (free, freeChapter, _) = await AddBook();
        await using var context = Library();
        switch (action)
        {
            case "add":
                context.Add(new Chapter { Text = "new", BookId = locked });
                break;
            case "delete":
                context.Remove(await context.Paragraphs.SingleAsync(p => p.Id == paragraph));
                context.Remove(await context.Chapters.SingleAsync(c => c.Id == chapter));
                break;
            case "move-out":
                (await context.Chapters.SingleAsync(c => c.Id == chapter)).BookId = free;
                break;
            case "move-in":
                (await context.Chapters.SingleAsync(c => c.Id == freeChapter)).BookId = locked;
                break;
        }

        var exception = await SaveThrows<ObjectLockedException>(context, async);
        Assert.That(exception.LockedThrough, Is.EqualTo($"Book(Id={locked})"));
        Assert.That(await Stored(locked, chapter, paragraph), Is.EqualTo(("chapter", "paragraph", 1)));
        Assert.That((await Stored(free, freeChapter, 0)).Chapters, Is.EqualTo(1));
    }

    [Test]
    public async Task A_paragraph_of_a_chapter_of_a_locked_book_is_refused_through_the_chain([Values] bool async)
    {
        var (book, chapter, paragraph) = await AddBook(locked: true);
        await using var context = Library();
        (await context.Paragraphs.SingleAsync(p => p.Id == paragraph)).Text = "edited";
        var exception = await SaveThrows<ObjectLockedException>(context, async);
        Assert.That(exception.Message, Does.StartWith($"Paragraph(Id={paragraph}) cannot be updated: Book(Id={book}) is locked"));
        Assert.That(await Stored(book, chapter, paragraph), Is.EqualTo(("chapter", "paragraph", 1)));
    }

    [Test]
    public async Task The_owner_of_the_books_lock_may_edit_its_chapters([Values] bool async)
    {
        var (book, chapter, paragraph) = await AddBook();
        await using var context = Library();
        using (ObjectLockOwner.Use("alice"))
        {
            await context.LockAsync(await context.Books.SingleAsync(b => b.Id == book));
            (await context.Chapters.SingleAsync(c => c.Id == chapter)).Text = "alice's edit";
            await Save(context, async);
        }

        using (ObjectLockOwner.Use("bob"))
        {
            (await context.Paragraphs.SingleAsync(p => p.Id == paragraph)).Text = "bob's edit";
            var exception = await SaveThrows<ObjectLockedException>(context, async);
            Assert.That(exception.LockedBy, Is.EqualTo("alice"));
        }

        Assert.That(await Stored(book, chapter, paragraph), Is.EqualTo(("alice's edit", "paragraph", 1)));
    }

    [Test]
    public async Task Nothing_is_written_to_a_chapter_after_its_books_lock_committed()
    {
        var (book, chapter, _) = await AddBook();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var locked = new TaskCompletionSource();
        var refused = 0;

        async Task Writer(int writer)
        {
            for (var n = 0; n < 200 && !stop.IsCancellationRequested && !locked.Task.IsCompleted; n++)
            {
                await using var context = Library();
                (await context.Chapters.SingleAsync(c => c.Id == chapter)).Text = $"w{writer}-{n}";
                try
                {
                    await context.SaveChangesAsync();
                }
                catch (ObjectLockedException)
                {
                    Interlocked.Increment(ref refused);
                }
            }

            // Once the lock committed, every further attempt must be refused (a writer that ran out of attempts first waits for it).
            await locked.Task.WaitAsync(stop.Token);
            for (var n = 0; n < 3; n++)
            {
                await using var context = Library();
                (await context.Chapters.SingleAsync(c => c.Id == chapter)).Text = $"late w{writer}-{n}";
                Assert.That(() => context.SaveChanges(), Throws.InstanceOf<ObjectLockedException>());
            }
        }

        var writers = Enumerable.Range(0, 8).Select(i => Task.Run(() => Writer(i))).ToArray();
        await Task.Delay(100);
        string? atLock;
        await using (var locker = Library())
        {
            await locker.LockAsync(await locker.Books.SingleAsync(b => b.Id == book));
            await using var read = Library();
            atLock = (await read.Chapters.AsNoTracking().SingleAsync(c => c.Id == chapter)).Text;
            locked.SetResult();
        }

        await Task.WhenAll(writers);
        await using var check = Library();
        Assert.That((await check.Chapters.AsNoTracking().SingleAsync(c => c.Id == chapter)).Text, Is.EqualTo(atLock));
    }

    [Test]
    public void A_derived_lock_needs_a_lockable_principal_and_a_reference_navigation()
    {
        var notLockable = Assert.Throws<InvalidOperationException>(() => _ = BadModel(m => m.Entity<Paragraph>().HasObjectLockFrom(p => p.Chapter)).Model)!;
        Assert.That(notLockable.Message, Does.Contain("'Paragraph' derives its lock from 'Chapter'").And.Contain("HasObjectLock"));

        var notNavigation = Assert.Throws<InvalidOperationException>(() => _ = BadModel(m => m.Entity<Chapter>().HasAnnotation("Concurrency:ObjectLockFrom", "Text")).Model)!;
        Assert.That(notNavigation.Message, Does.Contain("HasObjectLockFrom on 'Chapter' names 'Text'"));
    }

    private DbContext BadModel(Action<ModelBuilder> configure)
        => new ConfigurableContext(
            new DbContextOptionsBuilder().UseSqlite("Data Source=:memory:").UseConcurrency().Options,
            configure);

    private sealed class ConfigurableContext(DbContextOptions options, Action<ModelBuilder> configure) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            modelBuilder.Entity<Book>();
            modelBuilder.Entity<Chapter>();
            modelBuilder.Entity<Paragraph>();
            configure(modelBuilder);
        }
    }
}
