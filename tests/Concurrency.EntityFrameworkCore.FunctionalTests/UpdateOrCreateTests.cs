using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>UpdateOrCreateAsync: the seed's importer, racing, never creates a duplicate.</summary>
public sealed class UpdateOrCreateTests(Provider provider) : RowLockTestBase(provider)
{
    private static Task<(Taxon Entity, bool Created)> Import(RowLockContext context, string remoteId, string slug, bool async)
    {
        System.Linq.Expressions.Expression<Func<Taxon, bool>>[] match = [t => t.RemoteId == remoteId, t => t.Slug == slug];
        void Update(Taxon t)
        {
            t.RemoteId = remoteId;
            t.Imports++;
        }

        Taxon Create() => new() { RemoteId = remoteId, Slug = slug, Imports = 1 };
        return async
            ? context.Taxa.UpdateOrCreateAsync(match, Update, Create)
            : Task.FromResult(context.Taxa.UpdateOrCreate(match, Update, Create));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Sixteen_concurrent_callers_for_a_new_key_create_exactly_one_row([Values] bool async, CancellationToken cancellationToken)
    {
        var remoteId = $"R-{async}-{Guid.NewGuid():N}";
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            await using var context = CreateRowLockContext();
            return (await Import(context, remoteId, "slug-" + remoteId, async)).Created;
        }, cancellationToken)));

        await using var check = CreateRowLockContext();
        var rows = await check.Taxa.Where(t => t.RemoteId == remoteId).ToListAsync(cancellationToken);
        Assert.That(rows, Has.Count.EqualTo(1), "no duplicate");
        Assert.That(results.Count(created => created), Is.EqualTo(1), "one caller created, the others updated");
        Assert.That(rows[0].Imports, Is.EqualTo(16), "every caller's change is in the row");
    }

    [Test]
    public async Task The_fallback_match_finds_the_row_by_slug_when_the_remote_id_finds_nothing([Values] bool async)
    {
        var slug = "fallback-" + async;
        await SaveNew(CreateRowLockContext(), new Taxon { Slug = slug });
        await using var context = CreateRowLockContext();
        var (entity, created) = await Import(context, "R-fallback-" + async, slug, async);

        Assert.That(created, Is.False);
        await using var check = CreateRowLockContext();
        var row = await check.Taxa.SingleAsync(t => t.Slug == slug);
        Assert.That((row.Id, row.RemoteId, row.Imports), Is.EqualTo((entity.Id, "R-fallback-" + async, 1)));
    }

    [Test]
    public async Task It_runs_in_the_callers_transaction_and_commits_nothing_itself()
    {
        var slug = "caller-tx";
        await using var context = CreateRowLockContext();
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            var (_, created) = await Import(context, "R-caller-tx", slug, async: true);
            Assert.That(created, Is.True);
            await transaction.RollbackAsync();
        }

        await using var check = CreateRowLockContext();
        Assert.That(await check.Taxa.AnyAsync(t => t.Slug == slug), Is.False, "rolled back with the caller's transaction");
    }

    [Test]
    public async Task A_unique_violation_from_a_writer_that_does_not_use_it_is_answered_by_reading_again([Values] bool async)
    {
        if (!IsPostgres)
        {
            Assert.Ignore("Needs PostgreSQL: on SQLite the transaction's write lock keeps every other writer out until it commits, so no unique violation can race it.");
        }

        var remoteId = "R-unique-" + async;
        var sneak = new SneakInsert(() => ExecuteRaw($"INSERT INTO \"Taxa\" (\"RemoteId\", \"Slug\", \"Imports\") VALUES ('{remoteId}', 'sneaked', 0)"));
        await using var context = CreateRowLockContext(interceptors: sneak);
        var (entity, created) = await Import(context, remoteId, "unique-" + async, async);

        Assert.That(created, Is.False, "the second attempt found the sneaked row and updated it");
        await using var check = CreateRowLockContext();
        var row = await check.Taxa.SingleAsync(t => t.RemoteId == remoteId);
        Assert.That((row.Id, row.Slug, row.Imports), Is.EqualTo((entity.Id, "sneaked", 1)));
    }

    /// <summary>Another client inserts the same key just before the first save: the race UpdateOrCreate must survive.</summary>
    private sealed class SneakInsert(Action insert) : Microsoft.EntityFrameworkCore.Diagnostics.SaveChangesInterceptor
    {
        private int _saves;

        public override Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<int> SavingChanges(
            Microsoft.EntityFrameworkCore.Diagnostics.DbContextEventData eventData,
            Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<int> result)
        {
            if (++_saves == 1)
            {
                insert();
            }

            return result;
        }

        public override ValueTask<Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<int>> SavingChangesAsync(
            Microsoft.EntityFrameworkCore.Diagnostics.DbContextEventData eventData,
            Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<int> result,
            CancellationToken cancellationToken = default)
            => ValueTask.FromResult(SavingChanges(eventData, result));
    }
}
