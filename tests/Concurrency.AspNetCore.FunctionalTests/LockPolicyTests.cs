using System.Net;
using Concurrency.AspNetCore.FunctionalTests.TestUtilities;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     The API's own lock policy (django-object-lock's is_instance_locked / set_locked_status) over real Kestrel: a
///     published story is locked for the API and editable by the back office; RefuseWhenLocked answers 409 before a PUT,
///     PATCH or DELETE handler runs; a mapping without any lock fails at startup.
/// </summary>
public sealed class LockPolicyTests(Provider provider) : WebTestBase(provider)
{
    private async Task<Story> StoredStory(int id)
    {
        await using var context = CreateContext();
        return await context.Stories.AsNoTracking().SingleAsync(s => s.Id == id);
    }

    [Test]
    public async Task A_published_story_is_refused_by_the_API_on_PUT_PATCH_and_DELETE([Values("PUT", "PATCH", "DELETE")] string method)
    {
        var story = await Seed(new Story { Title = "published", IsPublished = true });
        var response = await Send(new HttpMethod(method), $"/stories/{story.Id}", new DocChange("changed through the API"));
        var problem = await Problem(response, 409);
        Assert.That(problem.GetProperty("detail").GetString(), Does.StartWith("This story is locked"));
        var stored = await StoredStory(story.Id);
        Assert.That((stored.Title, stored.Version), Is.EqualTo(("published", 1L)));
    }

    [Test]
    public async Task An_unpublished_story_is_changed_and_deleted_through_the_API()
    {
        var story = await Seed(new Story { Title = "draft" });
        Assert.That((await Send(HttpMethod.Put, $"/stories/{story.Id}", new DocChange("edited"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StoredStory(story.Id)).Title, Is.EqualTo("edited"));
        Assert.That((await Send(HttpMethod.Delete, $"/stories/{story.Id}")).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        await using var context = CreateContext();
        Assert.That(await context.Stories.AnyAsync(s => s.Id == story.Id), Is.False);
    }

    [Test]
    public async Task A_published_story_stays_editable_by_the_back_office()
    {
        var story = await Seed(new Story { Title = "published", IsPublished = true });
        await using (var backOffice = CreateContext())
        {
            (await backOffice.Stories.SingleAsync(s => s.Id == story.Id)).Title = "fixed a typo";
            await backOffice.SaveChangesAsync();
        }

        Assert.That((await StoredStory(story.Id)).Title, Is.EqualTo("fixed a typo"));
    }

    [Test]
    public async Task The_lock_endpoints_use_the_policy_to_publish_and_unpublish()
    {
        var story = await Seed(new Story { Title = "draft" });
        var locked = await Send(HttpMethod.Put, $"/stories/{story.Id}/lock");
        Assert.That(locked.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(locked.Headers.ETag, Is.Not.Null, "the change went through SaveChanges: a new version");
        Assert.That(await StoredStory(story.Id), Has.Property(nameof(Story.IsPublished)).True.And.Property(nameof(Story.Version)).EqualTo(2));

        Assert.That((await Problem(await Send(HttpMethod.Put, $"/stories/{story.Id}/lock"), 409)).GetProperty("title").GetString(), Is.EqualTo("The record is already locked"));
        await Problem(await Send(HttpMethod.Put, $"/stories/{story.Id}/lock?leaseSeconds=60"), 400);
        Assert.That((await Send(HttpMethod.Patch, $"/stories/{story.Id}/unlock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StoredStory(story.Id)).IsPublished, Is.False);
        Assert.That((await Problem(await Send(HttpMethod.Put, $"/stories/{story.Id}/unlock"), 409)).GetProperty("title").GetString(), Is.EqualTo("The record is not locked"));
    }

    [Test]
    public async Task Without_a_policy_the_filter_uses_the_entitys_own_lock()
    {
        var doc = await Seed(new Doc { Title = "v1" });
        Assert.That((await Send(HttpMethod.Put, $"/docs/{doc.Id}/lock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await Problem(await Send(HttpMethod.Put, $"/guarded/docs/{doc.Id}", new DocChange("refused")), 409);
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("v1"));

        Assert.That((await Send(HttpMethod.Put, $"/docs/{doc.Id}/unlock")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await Send(HttpMethod.Put, $"/guarded/docs/{doc.Id}", new DocChange("accepted"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await StoredDoc(doc.Id)).Title, Is.EqualTo("accepted"));
    }

    [Test]
    public async Task Mapping_lock_endpoints_for_an_entity_without_a_lock_or_a_policy_fails_at_startup()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Services.AddDbContext<WebContext>(o =>
        {
            Configure(o);
            o.UseConcurrency();
        });
        await using var app = builder.Build();

        var missing = Assert.Throws<InvalidOperationException>(() => app.MapGroup("/stories").MapObjectLockEndpoints<WebContext, Story, int>())!;
        Assert.That(missing.Message, Does.Contain("'Story': the entity has no object lock, and no lock policy was given").And.Contain("ILockable").And.Contain("o.IsLocked"));

        var half = Assert.Throws<InvalidOperationException>(() => app.MapGroup("/half").MapObjectLockEndpoints<WebContext, Story, int>(o => o.IsLocked = s => s.IsPublished))!;
        Assert.That(half.Message, Does.Contain("sets only one of IsLocked and SetLocked"));
    }
}
