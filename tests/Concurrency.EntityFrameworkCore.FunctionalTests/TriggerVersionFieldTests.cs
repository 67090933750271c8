using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests;

/// <summary>[TriggerVersionField] on Page: the database bumps the version on every UPDATE from any client.</summary>
[NonParallelizable] // drops and re-creates the triggers of its database
public sealed class TriggerVersionFieldTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task EnsureCreated_creates_the_trigger_and_verify_passes([Values] bool async)
    {
        await using var context = CreateContext();
        var triggers = async ? await context.Database.GetVersionTriggersAsync() : context.Database.GetVersionTriggers();
        Assert.That(triggers, Has.Count.EqualTo(1));
        Assert.That(triggers[0].Trigger.Table, Is.EqualTo("Pages"));
        Assert.That(triggers[0].Trigger.Column, Is.EqualTo("Version"));
        Assert.That(triggers[0].Exists, Is.True);
        if (async)
        {
            await context.Database.VerifyVersionTriggersAsync();
        }
        else
        {
            context.Database.VerifyVersionTriggers();
        }
    }

    [Test]
    public async Task Insert_starts_at_1_and_EF_reads_back_every_bump([Values] bool async)
    {
        await using var context = CreateContext();
        var page = new Page { Content = "c" };
        context.Add(page);
        await Save(context, async);
        Assert.That(page.Version, Is.EqualTo(1));

        page.Content = "c2";
        await Save(context, async);
        Assert.That(page.Version, Is.EqualTo(2));

        page.Content = "c3";
        await Save(context, async);
        Assert.That(page.Version, Is.EqualTo(3));
    }

    [Test]
    public async Task A_raw_SQL_update_from_another_client_bumps_the_version_and_a_stale_save_fails([Values] bool async)
    {
        var page = await Add(new Page { Content = "c" });
        await using var context = CreateContext();
        var loaded = await context.Pages.SingleAsync(x => x.Id == page.Id);

        Assert.That(ExecuteRaw($"UPDATE \"Pages\" SET \"Content\" = 'raw' WHERE \"Id\" = {page.Id}"), Is.EqualTo(1));

        loaded.Content = "mine";
        var exception = await ThrowsConflict(context, async);
        Assert.That(exception.ExpectedVersion, Is.EqualTo(1));
        Assert.That(exception.ActualVersion, Is.EqualTo(2));

        await using var check = CreateContext();
        Assert.That((await check.Pages.SingleAsync(x => x.Id == page.Id)).Content, Is.EqualTo("raw"));
    }

    [Test]
    public async Task Even_raw_SQL_that_sets_the_version_itself_cannot_move_it_backwards()
    {
        var page = await Add(new Page { Content = "c" });
        ExecuteRaw($"UPDATE \"Pages\" SET \"Version\" = 1, \"Content\" = 'x' WHERE \"Id\" = {page.Id}");
        await using var check = CreateContext();
        Assert.That((await check.Pages.SingleAsync(x => x.Id == page.Id)).Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Drop_then_verify_names_the_missing_trigger_and_create_restores_it([Values] bool async)
    {
        await using var context = CreateContext();
        try
        {
            if (async)
            {
                await context.Database.DropVersionTriggersAsync();
            }
            else
            {
                context.Database.DropVersionTriggers();
            }

            var exception = Assert.Throws<MissingVersionTriggersException>(() => context.Database.VerifyVersionTriggers());
            Assert.That(exception!.Message, Does.Contain("Pages_Version_version").And.Contain("Page.Version").And.Contain("CreateVersionTriggers"));
            Assert.That(exception.Missing.Single().Table, Is.EqualTo("Pages"));

            var page = await Add(new Page { Content = "c" });
            ExecuteRaw($"UPDATE \"Pages\" SET \"Content\" = 'raw' WHERE \"Id\" = {page.Id}");
            await using (var check = CreateContext())
            {
                Assert.That((await check.Pages.SingleAsync(x => x.Id == page.Id)).Version, Is.EqualTo(1), "no trigger, no bump");
            }
        }
        finally
        {
            if (async)
            {
                await context.Database.CreateVersionTriggersAsync();
            }
            else
            {
                context.Database.CreateVersionTriggers();
            }
        }

        context.Database.VerifyVersionTriggers();
    }

    [Test]
    public async Task Creating_triggers_twice_leaves_one_working_trigger()
    {
        await using var context = CreateContext();
        context.Database.CreateVersionTriggers();
        context.Database.CreateVersionTriggers();
        var page = await Add(new Page { Content = "c" });
        ExecuteRaw($"UPDATE \"Pages\" SET \"Content\" = 'raw' WHERE \"Id\" = {page.Id}");
        await using var check = CreateContext();
        Assert.That((await check.Pages.SingleAsync(x => x.Id == page.Id)).Version, Is.EqualTo(2));
    }

    [Test]
    public async Task ExecuteUpdate_bumps_through_the_trigger([Values] bool async)
    {
        var page = await Add(new Page { Content = "c" });
        await using var context = CreateContext();
        var query = context.Pages.Where(x => x.Id == page.Id);
        var rows = async
            ? await query.ExecuteUpdateAsync(s => s.SetProperty(p => p.Content, "bulk"))
            : query.ExecuteUpdate(s => s.SetProperty(p => p.Content, "bulk"));
        Assert.That(rows, Is.EqualTo(1));
        Assert.That((await context.Pages.AsNoTracking().SingleAsync(x => x.Id == page.Id)).Version, Is.EqualTo(2));
    }
}
