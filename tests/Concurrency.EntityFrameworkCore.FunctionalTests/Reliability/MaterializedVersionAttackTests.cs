using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     The version an entity was loaded with must be known whatever way it was loaded (FromSql, projections, untracked then
///     attached, hierarchies, shadow and owned shapes, reloads): a client's stale version conflicts, a current one saves.
/// </summary>
[Category("Reliability")]
public sealed class MaterializedVersionAttackTests(Provider provider) : DatabaseTestBase(provider)
{
    public enum LoadPath
    {
        FromSql,
        ProjectionWithEntity,
        NoTrackingThenAttach,
        NoTrackingThenUpdate,
        NoTrackingWithIdentityResolutionThenAttach,
        TphThroughBaseSet,
        TphThroughDerivedSet,
        TptThroughBaseSet,
        ShadowVersion,
        OwnedReference,
        OwnedCollection,
        Reload,
    }

    public enum Idiom
    {
        CurrentValue,
        OriginalValue,
        ExpectVersion,
    }

    private static (object Entity, string Property) NewEntity(LoadPath path)
        => path switch
        {
            LoadPath.TphThroughBaseSet or LoadPath.TphThroughDerivedSet => (new Dog { Name = "rex", Breed = "v1" }, nameof(Dog.Breed)),
            LoadPath.TptThroughBaseSet => (new Car { Make = "v1", Seats = 4 }, nameof(Car.Make)),
            LoadPath.ShadowVersion => (new Tag { Name = "v1" }, nameof(Tag.Name)),
            LoadPath.OwnedReference => (new Customer { Name = "v1", Address = new Address { City = "c" } }, nameof(Customer.Name)),
            LoadPath.OwnedCollection => (new Order { Note = "v1", Lines = [new OrderLine { Product = "p", Quantity = 1 }] }, nameof(Order.Note)),
            _ => (new Article { Title = "v1" }, nameof(Article.Title)),
        };

    private async Task Bump(Type type, int id, string property, string value)
    {
        await using var other = CreateContext();
        var entity = await other.FindAsync(type, id);
        other.Entry(entity!).Property(property).CurrentValue = value;
        await other.SaveChangesAsync();
    }

    private async Task<object> Load(VersionedContext context, LoadPath path, int id, string property)
    {
        switch (path)
        {
            case LoadPath.FromSql:
                return await context.Articles.FromSql($"SELECT * FROM \"Articles\" WHERE \"Id\" = {id}").SingleAsync();
            case LoadPath.ProjectionWithEntity:
                return (await context.Articles.Where(a => a.Id == id).Select(a => new { a, a.Title }).SingleAsync()).a;
            case LoadPath.NoTrackingThenAttach:
                return context.Attach(await context.Articles.AsNoTracking().SingleAsync(a => a.Id == id)).Entity;
            case LoadPath.NoTrackingThenUpdate:
                return context.Update(await context.Articles.AsNoTracking().SingleAsync(a => a.Id == id)).Entity;
            case LoadPath.NoTrackingWithIdentityResolutionThenAttach:
                return context.Attach(await context.Articles.AsNoTrackingWithIdentityResolution().SingleAsync(a => a.Id == id)).Entity;
            case LoadPath.TphThroughBaseSet:
                return await context.Animals.SingleAsync(a => a.Id == id);
            case LoadPath.TphThroughDerivedSet:
                return await context.Dogs.SingleAsync(a => a.Id == id);
            case LoadPath.TptThroughBaseSet:
                return await context.Vehicles.SingleAsync(v => v.Id == id);
            case LoadPath.ShadowVersion:
                return await context.Tags.SingleAsync(t => t.Id == id);
            case LoadPath.OwnedReference:
                return await context.Customers.SingleAsync(c => c.Id == id);
            case LoadPath.OwnedCollection:
                return await context.Orders.SingleAsync(o => o.Id == id);
            default:
                // Loaded, changed by someone else, then reloaded: the entity now shows the newer row.
                var article = await context.Articles.SingleAsync(a => a.Id == id);
                await Bump(typeof(Article), id, property, "v3 by someone else");
                await context.Entry(article).ReloadAsync();
                return article;
        }
    }

    private static void Announce(EntityEntry entry, long clientVersion, Idiom idiom)
    {
        var version = entry.Property("Version");
        var value = Convert.ChangeType(clientVersion, version.Metadata.ClrType, System.Globalization.CultureInfo.InvariantCulture);
        switch (idiom)
        {
            case Idiom.CurrentValue:
                version.CurrentValue = value;
                break;
            case Idiom.OriginalValue:
                version.OriginalValue = value;
                break;
            default:
                entry.ExpectVersion(clientVersion);
                break;
        }
    }

    [Test]
    public async Task The_loaded_version_is_known_whatever_the_load_path([Values] LoadPath path, [Values] Idiom idiom, [Values] bool stale)
    {
        var (created, property) = NewEntity(path);
        await using (var setup = CreateContext())
        {
            setup.Add(created);
            await setup.SaveChangesAsync();
        }

        var type = created.GetType();
        var id = (int)type.GetProperty("Id")!.GetValue(created)!;

        await Bump(type, id, property, "v2 by someone else");

        await using var context = CreateContext();
        var loaded = await Load(context, path, id, property);
        var entry = context.Entry(loaded);
        var dbVersion = Convert.ToInt64(entry.Property("Version").CurrentValue, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(dbVersion, Is.EqualTo(path == LoadPath.Reload ? 3 : 2), "the loaded entity shows the row's version");
        var client = stale ? dbVersion - 1 : dbVersion;
        Announce(entry, client, idiom);
        entry.Property(property).CurrentValue = "client edit";

        if (stale)
        {
            var conflict = await ThrowsConflict(context, async: true);
            Assert.That(conflict.ExpectedVersion, Is.EqualTo(client));
        }
        else
        {
            await context.SaveChangesAsync();
        }

        await using var check = CreateContext();
        var stored = check.Entry((await check.FindAsync(type, id))!);
        Assert.That(stored.Property(property).CurrentValue, Is.EqualTo(stale ? (path == LoadPath.Reload ? "v3 by someone else" : "v2 by someone else") : "client edit"));
        Assert.That(
            Convert.ToInt64(stored.Property("Version").CurrentValue, System.Globalization.CultureInfo.InvariantCulture),
            Is.EqualTo(stale ? dbVersion : dbVersion + 1));
    }

    [Test]
    public async Task A_version_written_into_an_untracked_entity_before_Attach_is_checked([Values] bool stale)
    {
        var article = await Add(new Article { Title = "v1" });
        await Bump(typeof(Article), article.Id, nameof(Article.Title), "v2 by someone else");
        await using var context = CreateContext();
        var loaded = await context.Articles.AsNoTracking().SingleAsync(a => a.Id == article.Id);
        loaded.Version = stale ? 1 : 2; // the client's DTO copied onto the untracked entity
        loaded.Title = "client edit";
        context.Update(loaded);
        if (stale)
        {
            Assert.That(await ThrowsConflict(context, async: true), Is.Not.Null);
        }
        else
        {
            await context.SaveChangesAsync();
        }

        await using var check = CreateContext();
        Assert.That((await check.Articles.SingleAsync(a => a.Id == article.Id)).Title, Is.EqualTo(stale ? "v2 by someone else" : "client edit"));
    }

    [Test]
    public async Task A_pooled_context_reused_for_many_loads_keeps_checking_client_versions()
    {
        var options = Configure(new DbContextOptionsBuilder<VersionedContext>()).UseConcurrency().Options;
        var factory = new PooledDbContextFactory<VersionedContext>(options, poolSize: 1);
        var article = await Add(new Article { Title = "v1" });
        for (var i = 0; i < 12; i++)
        {
            await using var context = await factory.CreateDbContextAsync();
            var loaded = i % 2 == 0
                ? await context.Articles.SingleAsync(a => a.Id == article.Id)
                : context.Attach(await context.Articles.AsNoTracking().SingleAsync(a => a.Id == article.Id)).Entity;
            var current = loaded.Version;
            loaded.Version = current - 1; // a client one version behind
            loaded.Title = "stale " + i;
            Assert.That(await ThrowsConflict(context, async: true), Is.Not.Null, $"lease {i}");
            loaded.Version = current;
            loaded.Title = "edit " + i;
            await context.SaveChangesAsync();
        }

        await using var check = CreateContext();
        var stored = await check.Articles.SingleAsync(a => a.Id == article.Id);
        Assert.That(stored.Title, Is.EqualTo("edit 11"));
        Assert.That(stored.Version, Is.EqualTo(13));
    }
}
