using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     Object locks, enforced against the database at save time: the holes of django-object-lock (a stale copy
///     overwriting or deleting a locked row, a stale save unlocking it) must stay closed.
/// </summary>
public sealed class ObjectLockTests(Provider provider) : DatabaseTestBase(provider)
{
    [OneTimeSetUp]
    public void CreateLockSchema()
        => CreateLockTables();

    private async Task<T> AddLockable<T>(T entity)
        where T : class
    {
        await using var context = CreateLockContext();
        context.Add(entity);
        await context.SaveChangesAsync();
        return entity;
    }

    private async Task<Post> StoredPost(int id)
    {
        await using var context = CreateLockContext();
        return await context.Posts.SingleAsync(x => x.Id == id);
    }

    private static Task<ObjectLockedException> ThrowsLocked(DbContext context, bool async)
        => SaveThrows<ObjectLockedException>(context, async);

    private static Task Lock(DbContext context, object entity, bool async, TimeSpan? lease = null)
        => async ? context.LockAsync(entity, lease) : Task.FromResult(context.Lock(entity, lease));

    private static Task Unlock(DbContext context, object entity, bool async, bool force = false)
        => async ? context.UnlockAsync(entity, force) : Task.FromResult(context.Unlock(entity, force));

    [Test]
    public async Task A_copy_loaded_before_the_lock_can_neither_update_nor_delete_the_row([Values] bool async)
    {
        var post = await AddLockable(new Post { Title = "draft" });
        await using var stale = CreateLockContext();
        var copy = await stale.Posts.SingleAsync(x => x.Id == post.Id);

        await using (var locker = CreateLockContext())
        {
            await Lock(locker, await locker.Posts.SingleAsync(x => x.Id == post.Id), async);
        }

        copy.Title = "overwritten";
        var refused = await ThrowsLocked(stale, async);
        Assert.That(refused.Message, Does.StartWith($"Post(Id={post.Id}) is locked, so it cannot be updated."));
        Assert.That((refused.EntityType, refused.Key["Id"]), Is.EqualTo((typeof(Post), (object)post.Id)));

        stale.Entry(copy).State = EntityState.Deleted;
        Assert.That((await ThrowsLocked(stale, async)).Message, Does.Contain("cannot be deleted"));

        var stored = await StoredPost(post.Id);
        Assert.That((stored.Title, stored.IsLocked), Is.EqualTo(("draft", true)), "nothing written, the row still exists and is locked");
    }

    [Test]
    public async Task A_disconnected_update_with_IsLocked_false_never_unlocks_a_locked_row([Values] bool async)
    {
        var post = await AddLockable(new Post { Title = "draft" });
        await using (var locker = CreateLockContext())
        {
            await Lock(locker, await locker.Posts.SingleAsync(x => x.Id == post.Id), async);
        }

        // The classic: a DTO from the client, attached with Update(), which marks every property modified.
        await using var context = CreateLockContext();
        context.Update(new Post { Id = post.Id, Title = "from the client", IsLocked = false, Version = 2 });
        await ThrowsLocked(context, async);

        var stored = await StoredPost(post.Id);
        Assert.That((stored.Title, stored.IsLocked), Is.EqualTo(("draft", true)));
    }

    [Test]
    public async Task Unlocking_and_editing_in_the_same_save_is_allowed([Values] bool async)
    {
        var post = await AddLockable(new Post { Title = "draft", IsLocked = true });
        await using var context = CreateLockContext();
        var loaded = await context.Posts.SingleAsync(x => x.Id == post.Id);
        loaded.IsLocked = false;
        loaded.Title = "edited";
        await Save(context, async);

        var stored = await StoredPost(post.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.Version), Is.EqualTo(("edited", false, 2L)));
    }

    [Test]
    public async Task A_stale_copy_that_saw_the_lock_does_not_lock_the_row_again_when_saved_after_an_unlock([Values] bool async)
    {
        var post = await AddLockable(new Post { Title = "draft" });
        await using var stale = CreateLockContext();
        await using var other = CreateLockContext();
        var otherCopy = await other.Posts.SingleAsync(x => x.Id == post.Id);
        await Lock(other, otherCopy, async);
        var copy = await stale.Posts.SingleAsync(x => x.Id == post.Id); // loaded while locked
        await Unlock(other, otherCopy, async);

        copy.Title = "edited";
        stale.Entry(copy).ExpectVersion(await GetVersion(post.Id));
        stale.Entry(copy).State = EntityState.Modified; // every column marked for writing, as Update(entity) does
        await Save(stale, async);

        var stored = await StoredPost(post.Id);
        Assert.That((stored.Title, stored.IsLocked), Is.EqualTo(("edited", false)), "the stale copy's IsLocked = true was not written back");
    }

    private async Task<long> GetVersion(int id)
        => (await StoredPost(id)).Version;

    [Test]
    public async Task Lock_and_unlock_refuse_when_the_state_does_not_change([Values] bool async)
    {
        var post = await AddLockable(new Post { Title = "draft" });
        await using var context = CreateLockContext();
        var loaded = await context.Posts.SingleAsync(x => x.Id == post.Id);

        await Assert.ThrowsAsync<ObjectAlreadyUnlockedException>(() => Unlock(context, loaded, async));
        await Lock(context, loaded, async);
        Assert.That((loaded.IsLocked, loaded.Version), Is.EqualTo((true, 2L)), "the tracked entity shows the lock and the version it bumped");
        var again = await Assert.ThrowsAsync<ObjectAlreadyLockedException>(() => Lock(context, loaded, async));
        Assert.That(again!.Message, Is.EqualTo($"Post(Id={post.Id}) is already locked."));
        await Unlock(context, loaded, async);
        Assert.That((loaded.IsLocked, loaded.Version), Is.EqualTo((false, 3L)));

        var stored = await StoredPost(post.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((false, 3L)));
    }

    [Test]
    public async Task Locking_leaves_other_pending_changes_unsaved_and_the_lockers_own_edit_then_fails()
    {
        var post = await AddLockable(new Post { Title = "draft" });
        await using var context = CreateLockContext();
        var loaded = await context.Posts.SingleAsync(x => x.Id == post.Id);
        loaded.Title = "pending";
        await context.LockAsync(loaded);

        Assert.That((await StoredPost(post.Id)).Title, Is.EqualTo("draft"), "LockAsync wrote only the lock");
        await ThrowsLocked(context, async: true); // a plain lock has no owner: unlock first, or unlock in the same save
        loaded.IsLocked = false;
        await context.SaveChangesAsync();
        var stored = await StoredPost(post.Id);
        Assert.That((stored.Title, stored.IsLocked), Is.EqualTo(("pending", false)));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Of_eight_clients_locking_at_once_exactly_one_wins(CancellationToken cancellationToken)
    {
        var post = await AddLockable(new Post { Title = "race" });
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await using var context = CreateLockContext();
            var loaded = await context.Posts.SingleAsync(x => x.Id == post.Id, cancellationToken);
            try
            {
                await context.LockAsync(loaded, cancellationToken: cancellationToken);
                return true;
            }
            catch (ObjectAlreadyLockedException)
            {
                return false;
            }
        }, cancellationToken)));

        Assert.That(results.Count(won => won), Is.EqualTo(1));
        var stored = await StoredPost(post.Id);
        Assert.That((stored.IsLocked, stored.Version), Is.EqualTo((true, 2L)), "locked once, bumped once");
    }

    [Test]
    public async Task The_owner_keeps_editing_while_others_are_refused_with_who_holds_the_lock([Values] bool async)
    {
        var ticket = await AddLockable(new Ticket { Title = "bug" });
        await using var alice = CreateLockContext();
        var aliceCopy = await alice.Tickets.SingleAsync(x => x.Id == ticket.Id);
        await using var bob = CreateLockContext();
        var bobCopy = await bob.Tickets.SingleAsync(x => x.Id == ticket.Id);

        using (ObjectLockOwner.Use("alice"))
        {
            await Lock(alice, aliceCopy, async, lease: TimeSpan.FromMinutes(10));
            Assert.That((aliceCopy.LockedBy, aliceCopy.LockExpiresAt > DateTimeOffset.UtcNow.AddMinutes(9)), Is.EqualTo(("alice", true)));
            aliceCopy.Title = "fixed by alice";
            await Save(alice, async);
        }

        using (ObjectLockOwner.Use("bob"))
        {
            bobCopy.Title = "bob's edit";
            var refused = await ThrowsLocked(bob, async);
            Assert.That(refused.LockedBy, Is.EqualTo("alice"));
            Assert.That(refused.LockExpiresAt, Is.EqualTo(aliceCopy.LockExpiresAt).Within(TimeSpan.FromMilliseconds(1)));
            Assert.That(refused.Message, Does.Contain("is locked by 'alice' until").And.Contain("force: true"));

            // Bob cannot unlock Alice's lock, not by UnlockAsync and not by setting IsLocked = false in a save.
            var unlock = await Assert.ThrowsAsync<ObjectLockedException>(() => Unlock(bob, bobCopy, async));
            Assert.That(unlock!.LockedBy, Is.EqualTo("alice"));
            bob.ChangeTracker.Clear();
            var fresh = await bob.Tickets.SingleAsync(x => x.Id == ticket.Id);
            fresh.IsLocked = false;
            await ThrowsLocked(bob, async);

            // ... unless he overrides it explicitly.
            bob.ChangeTracker.Clear();
            fresh = await bob.Tickets.SingleAsync(x => x.Id == ticket.Id);
            await Unlock(bob, fresh, async, force: true);
            Assert.That((fresh.IsLocked, fresh.LockedBy, fresh.LockExpiresAt), Is.EqualTo((false, (string?)null, (DateTimeOffset?)null)));
        }

        await using var check = CreateLockContext();
        var stored = await check.Tickets.SingleAsync(x => x.Id == ticket.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.LockedBy), Is.EqualTo(("fixed by alice", false, (string?)null)));
    }

    [Test]
    public async Task The_owners_disconnected_update_with_IsLocked_false_does_not_release_the_lock([Values] bool async)
    {
        var ticket = await AddLockable(new Ticket { Title = "bug" });
        using (ObjectLockOwner.Use("alice"))
        {
            await using (var locker = CreateLockContext())
            {
                await Lock(locker, await locker.Tickets.SingleAsync(x => x.Id == ticket.Id), async, lease: TimeSpan.FromMinutes(10));
            }

            // The owner's client sends the record back without the lock fields: Update() marks them all modified.
            await using var context = CreateLockContext();
            context.Update(new Ticket { Id = ticket.Id, Title = "edited by alice" });
            await Save(context, async);
        }

        await using var check = CreateLockContext();
        var stored = await check.Tickets.SingleAsync(x => x.Id == ticket.Id);
        Assert.That((stored.Title, stored.IsLocked, stored.LockedBy), Is.EqualTo(("edited by alice", true, "alice")), "edited, still locked by alice");
        Assert.That(stored.LockExpiresAt, Is.Not.Null);
    }

    [Test]
    public async Task An_expired_lease_counts_as_unlocked([Values] bool async)
    {
        var ticket = await AddLockable(new Ticket { Title = "bug" });
        await using (var alice = CreateLockContext())
        using (ObjectLockOwner.Use("alice"))
        {
            await Lock(alice, await alice.Tickets.SingleAsync(x => x.Id == ticket.Id), async, lease: TimeSpan.FromMinutes(5));
        }

        // Time passes: the lease ran out an hour ago.
        await using (var clock = CreateLockContext())
        {
            await clock.Tickets.Where(x => x.Id == ticket.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.LockExpiresAt, DateTimeOffset.UtcNow.AddHours(-1)));
        }

        using (ObjectLockOwner.Use("bob"))
        {
            await using var bob = CreateLockContext();
            var copy = await bob.Tickets.SingleAsync(x => x.Id == ticket.Id);
            copy.Title = "bob's edit";
            await Save(bob, async);
            await Assert.ThrowsAsync<ObjectAlreadyUnlockedException>(() => Unlock(bob, copy, async));
            await Lock(bob, copy, async, lease: TimeSpan.FromMinutes(5));
            Assert.That(copy.LockedBy, Is.EqualTo("bob"));
        }
    }

    [Test]
    public async Task A_fluently_configured_lock_works_like_ILockable([Values] bool async)
    {
        var folder = await AddLockable(new Folder { Name = "docs" });
        await using var stale = CreateLockContext();
        var copy = await stale.Folders.SingleAsync(x => x.Id == folder.Id);
        await using (var locker = CreateLockContext())
        {
            await Lock(locker, await locker.Folders.SingleAsync(x => x.Id == folder.Id), async);
        }

        copy.Name = "renamed";
        var refused = await ThrowsLocked(stale, async);
        Assert.That(refused.EntityDescription, Is.EqualTo($"Folder(Id={folder.Id})"));
    }

    [Test]
    public async Task Clear_errors_for_what_cannot_be_locked()
    {
        await using var context = CreateLockContext();
        var post = await AddLockable(new Post { Title = "x" });
        var loaded = await context.Posts.SingleAsync(x => x.Id == post.Id);

        var lease = await Assert.ThrowsAsync<ArgumentException>(() => context.LockAsync(loaded, TimeSpan.FromMinutes(1)));
        Assert.That(lease!.Message, Does.Contain("'Post' has no lease property").And.Contain("ILeasedLockable"));
        Assert.That(lease.ParamName, Is.EqualTo("lease"));

        var added = new Post { Title = "new" };
        context.Add(added);
        var unsaved = await Assert.ThrowsAsync<InvalidOperationException>(() => context.LockAsync(added));
        Assert.That(unsaved!.Message, Does.Contain("has not been saved yet"));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.LockAsync(new Ticket { Id = 1 }, TimeSpan.Zero));

        await using var versioned = CreateContext();
        var article = new Article { Title = "a" };
        versioned.Add(article);
        await versioned.SaveChangesAsync();
        var notLockable = await Assert.ThrowsAsync<InvalidOperationException>(() => versioned.LockAsync(article));
        Assert.That(notLockable!.Message, Does.Contain("'Article' has no object lock").And.Contain("HasObjectLock"));
    }
}
