using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>
///     The stale-tracked-entity trap: a locking query in a context that already tracks the row must hand back the locked
///     row's values, not the ones the entity was loaded with, or a read-modify-write without a version field silently
///     loses another writer's update.
/// </summary>
public sealed class RowLockTrackedEntityTests(Provider provider) : RowLockTestBase(provider)
{
    private async Task<Job> AddJob(string status = "queued")
        => await SaveNew(CreateRowLockContext(), new Job { Status = status });

    private static Task<Job> LockJob(RowLockContext context, int id, bool async)
    {
        var query = context.Jobs.Where(j => j.Id == id).ForUpdate();
        return async ? query.SingleAsync() : Task.FromResult(query.Single());
    }

    [Test]
    public async Task A_row_the_context_already_tracks_is_refreshed_by_the_locking_query_so_no_update_is_lost([Values] bool async)
    {
        var job = await AddJob();
        await using var context = CreateRowLockContext();
        var tracked = await context.Jobs.SingleAsync(j => j.Id == job.Id);          // loaded before the lock: Runs = 0

        ExecuteRaw($"UPDATE \"Jobs\" SET \"Runs\" = \"Runs\" + 1 WHERE \"Id\" = {job.Id}"); // another writer, committed

        await using (var transaction = await Begin(context, async))
        {
            var locked = await LockJob(context, job.Id, async);
            Assert.That(locked, Is.SameAs(tracked), "EF's identity resolution still hands back the tracked instance");
            Assert.That(locked.Runs, Is.EqualTo(1), "with the locked row's values");
            Assert.That(context.Entry(locked).State, Is.EqualTo(EntityState.Unchanged));
            locked.Runs++;
            await Save(context, async);
            await transaction.CommitAsync();
        }

        await using var check = CreateRowLockContext();
        Assert.That((await check.Jobs.SingleAsync(j => j.Id == job.Id)).Runs, Is.EqualTo(2), "both increments are in the row");
    }

    [Test]
    public async Task A_change_the_application_made_before_the_lock_is_kept_and_the_rest_is_refreshed([Values] bool async)
    {
        var job = await AddJob();
        await using var context = CreateRowLockContext();
        var tracked = await context.Jobs.SingleAsync(j => j.Id == job.Id);
        tracked.Status = "mine";                                                    // changed before the lock, not saved

        ExecuteRaw($"UPDATE \"Jobs\" SET \"Runs\" = 5, \"Status\" = 'theirs' WHERE \"Id\" = {job.Id}");

        await using (var transaction = await Begin(context, async))
        {
            var locked = await LockJob(context, job.Id, async);
            Assert.That((locked.Status, locked.Runs), Is.EqualTo(("mine", 5)), "the application's change is kept, the rest is the row's");
            var entry = context.Entry(locked);
            Assert.That(entry.Property(j => j.Status).OriginalValue, Is.EqualTo("theirs"), "original values are the locked row's");
            Assert.That(entry.Property(j => j.Status).IsModified, Is.True);
            Assert.That(entry.Property(j => j.Runs).IsModified, Is.False);
            locked.Runs++;
            await Save(context, async);
            await transaction.CommitAsync();
        }

        await using var check = CreateRowLockContext();
        var stored = await check.Jobs.SingleAsync(j => j.Id == job.Id);
        Assert.That((stored.Status, stored.Runs), Is.EqualTo(("mine", 6)));
    }

    [Test]
    public async Task A_versioned_row_refreshed_by_the_lock_saves_without_a_conflict([Values] bool async)
    {
        var warehouse = await AddWarehouse("refresh-versioned");
        await using var context = CreateRowLockContext();
        var tracked = await context.Warehouses.SingleAsync(w => w.Id == warehouse.Id);

        await using (var other = CreateRowLockContext())
        {
            (await other.Warehouses.SingleAsync(w => w.Id == warehouse.Id)).Stock = 10;  // bumps the version
            await other.SaveChangesAsync();
        }

        await using (var transaction = await Begin(context, async))
        {
            var locked = (await LoadForUpdate(context, warehouse.Id, async))!;
            Assert.That(locked, Is.SameAs(tracked));
            Assert.That((locked.Stock, locked.Version), Is.EqualTo((10, warehouse.Version + 1)));
            locked.Stock++;
            await Save(context, async);                                            // no RecordModifiedException
            await transaction.CommitAsync();
        }

        await using var check = CreateRowLockContext();
        var stored = await check.Warehouses.SingleAsync(w => w.Id == warehouse.Id);
        Assert.That((stored.Stock, stored.Version), Is.EqualTo((11, warehouse.Version + 2)));
    }

    [Test]
    public async Task Rows_of_several_tracked_entities_are_each_refreshed_and_new_rows_are_materialized([Values] bool async)
    {
        var first = await AddJob("several");
        var second = await AddJob("several");
        var third = await AddJob("several");
        await using var context = CreateRowLockContext();
        var tracked = await context.Jobs.Where(j => j.Id == first.Id || j.Id == second.Id).OrderBy(j => j.Id).ToListAsync();

        ExecuteRaw($"UPDATE \"Jobs\" SET \"Runs\" = \"Id\" WHERE \"Id\" IN ({first.Id}, {second.Id}, {third.Id})");

        await using var transaction = await Begin(context, async);
        var query = context.Jobs.Where(j => j.Status == "several" && j.Id >= first.Id).OrderBy(j => j.Id).ForUpdate();
        var locked = async ? await query.ToListAsync() : query.ToList();
        Assert.That(locked.Select(j => j.Runs), Is.EqualTo(new[] { first.Id, second.Id, third.Id }));
        Assert.That(locked.Take(2), Is.EqualTo(tracked), "the tracked instances, refreshed");
    }

    [Test]
    public async Task A_split_query_with_a_collection_refreshes_the_tracked_root_and_leaves_the_collection_to_EF([Values] bool async)
    {
        var warehouse = await AddWarehouse("refresh-split", withManager: true, shelves: 2);
        await using var context = CreateRowLockContext();
        var tracked = await context.Warehouses.Include(w => w.Shelves).SingleAsync(w => w.Id == warehouse.Id);

        ExecuteRaw($"UPDATE \"Warehouses\" SET \"Stock\" = 9 WHERE \"Id\" = {warehouse.Id}");

        await using var transaction = await Begin(context, async);
        var query = context.Warehouses.Where(w => w.Id == warehouse.Id).Include(w => w.Manager).Include(w => w.Shelves).AsSplitQuery().ForUpdate();
        var locked = async ? await query.SingleAsync() : query.Single();
        Assert.That(locked, Is.SameAs(tracked));
        Assert.That((locked.Stock, locked.Shelves.Count, locked.Manager!.Name), Is.EqualTo((9, 2, "m-refresh-split")));
        Assert.That(context.Entry(locked).State, Is.EqualTo(EntityState.Unchanged));
    }

    [Test]
    public async Task A_projection_that_reads_the_locked_entity_after_a_joined_one_refreshes_it_from_its_own_columns([Values] bool async)
    {
        // The manager's columns come first (Id, Name), the warehouse's are renamed (Id0, Name0): the refresh must use
        // the warehouse's own columns, never the manager's.
        var warehouse = await AddWarehouse("refresh-projection", withManager: true);
        await using var context = CreateRowLockContext();
        var tracked = await context.Warehouses.SingleAsync(w => w.Id == warehouse.Id);

        ExecuteRaw($"UPDATE \"Warehouses\" SET \"Stock\" = 7, \"Name\" = 'renamed' WHERE \"Id\" = {warehouse.Id}");

        await using var transaction = await Begin(context, async);
        var query = context.Warehouses.Where(w => w.Id == warehouse.Id).Select(w => new { M = w.Manager, W = w }).ForUpdate();
        var row = async ? await query.SingleAsync() : query.Single();
        Assert.That(row.W, Is.SameAs(tracked));
        Assert.That((row.W.Name, row.W.Stock, row.W.Id), Is.EqualTo(("renamed", 7, warehouse.Id)));
        Assert.That(row.M!.Name, Is.EqualTo("m-refresh-projection"));
        Assert.That(context.Entry(row.W).State, Is.EqualTo(EntityState.Unchanged));
    }

    [Test]
    public async Task A_no_tracking_locking_query_and_a_fresh_context_are_untouched([Values] bool async)
    {
        var job = await AddJob();
        await using var context = CreateRowLockContext();
        await using var transaction = await Begin(context, async);
        var query = context.Jobs.Where(j => j.Id == job.Id).ForUpdate().AsNoTracking();
        var row = async ? await query.SingleAsync() : query.Single();
        Assert.That(row.Runs, Is.EqualTo(0));
        Assert.That(context.ChangeTracker.Entries(), Is.Empty);
        var locked = await LockJob(context, job.Id, async);
        Assert.That(locked, Is.Not.SameAs(row));
        Assert.That(context.Entry(locked).State, Is.EqualTo(EntityState.Unchanged));
    }
}
