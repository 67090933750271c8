using Concurrency.EntityFrameworkCore.FunctionalTests.TestUtilities;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.FunctionalTests.Reliability;

/// <summary>
///     Owned data is part of its owner's aggregate: replacing an OwnsOne instance, or adding or removing OwnsMany elements,
///     bumps the owner's version, and a stale save of the owner then conflicts instead of overwriting.
/// </summary>
[Category("Reliability")]
public sealed class OwnedAggregateTests(Provider provider) : DatabaseTestBase(provider)
{
    [Test]
    public async Task Replacing_an_owned_instance_bumps_the_owner_and_a_stale_owner_save_conflicts([Values] bool async)
    {
        var customer = await Add(new Customer { Name = "Ada", Address = new Address { Street = "1 Old Road", City = "Old" } });

        await using var stale = CreateContext();
        var staleCopy = await stale.Customers.SingleAsync(c => c.Id == customer.Id);

        await using var writer = CreateContext();
        var current = await writer.Customers.SingleAsync(c => c.Id == customer.Id);
        current.Address = new Address { Street = "2 New Street", City = "New" };
        await Save(writer, async);
        Assert.That(current.Version, Is.EqualTo(2));

        staleCopy.Address = new Address { Street = "3 Stale Lane", City = "Stale" };
        var conflict = await ThrowsConflict(stale, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));

        await using var check = CreateContext();
        var stored = await check.Customers.SingleAsync(c => c.Id == customer.Id);
        Assert.That(stored.Address.City, Is.EqualTo("New"));
        Assert.That(stored.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task Adding_or_removing_owned_elements_bumps_the_owner_and_a_stale_owner_save_conflicts([Values] bool async, [Values] bool remove)
    {
        var order = await Add(new Order { Note = "first", Lines = [new OrderLine { Product = "tea", Quantity = 1 }] });

        await using var stale = CreateContext();
        var staleCopy = await stale.Orders.SingleAsync(o => o.Id == order.Id);

        await using var writer = CreateContext();
        var current = await writer.Orders.SingleAsync(o => o.Id == order.Id);
        if (remove)
        {
            current.Lines.Clear();
        }
        else
        {
            current.Lines.Add(new OrderLine { Product = "cake", Quantity = 2 });
        }

        await Save(writer, async);
        Assert.That(current.Version, Is.EqualTo(2));

        staleCopy.Note = "stale note";
        var conflict = await ThrowsConflict(stale, async);
        Assert.That(conflict.ExpectedVersion, Is.EqualTo(1));
        Assert.That(conflict.ActualVersion, Is.EqualTo(2));

        await using var check = CreateContext();
        var stored = await check.Orders.SingleAsync(o => o.Id == order.Id);
        Assert.That(stored.Note, Is.EqualTo("first"));
        Assert.That(stored.Lines.Select(l => l.Product), Is.EqualTo(remove ? Array.Empty<string>() : new[] { "tea", "cake" }).AsCollection);
        Assert.That(stored.Version, Is.EqualTo(2));
    }

    [Test]
    public async Task A_stale_change_of_owned_elements_conflicts_too([Values] bool async)
    {
        var order = await Add(new Order { Note = "first", Lines = [new OrderLine { Product = "tea", Quantity = 1 }] });

        await using var stale = CreateContext();
        var staleCopy = await stale.Orders.SingleAsync(o => o.Id == order.Id);

        await using var writer = CreateContext();
        (await writer.Orders.SingleAsync(o => o.Id == order.Id)).Note = "second";
        await Save(writer, async);

        staleCopy.Lines.Add(new OrderLine { Product = "stale cake", Quantity = 9 });
        await ThrowsConflict(stale, async);

        await using var check = CreateContext();
        var stored = await check.Orders.SingleAsync(o => o.Id == order.Id);
        Assert.That(stored.Lines.Select(l => l.Product), Is.EqualTo(new[] { "tea" }));
        Assert.That(stored.Note, Is.EqualTo("second"));
    }

    [Test]
    public async Task Inside_DisableConcurrency_a_stale_owned_only_change_wins_and_the_version_still_goes_up([Values] bool async, [Values] bool collection, [Values] bool ownerChangedToo)
    {
        var customer = await Add(new Customer { Name = "Ada", Address = new Address { Street = "1 Road", City = "Old" } });
        var order = await Add(new Order { Note = "first", Lines = [new OrderLine { Product = "tea", Quantity = 1 }] });

        await using var stale = CreateContext();
        var staleCustomer = await stale.Customers.SingleAsync(c => c.Id == customer.Id);
        var staleOrder = await stale.Orders.SingleAsync(o => o.Id == order.Id);

        await using (var writer = CreateContext())
        {
            (await writer.Customers.SingleAsync(c => c.Id == customer.Id)).Name = "Ada L.";
            (await writer.Orders.SingleAsync(o => o.Id == order.Id)).Note = "second";
            await writer.SaveChangesAsync(); // both at version 2
        }

        if (collection)
        {
            staleOrder.Lines[0].Quantity = 5;
            if (ownerChangedToo)
            {
                staleOrder.Note = "stale note wins";
            }
        }
        else
        {
            staleCustomer.Address.City = "New";
            if (ownerChangedToo)
            {
                staleCustomer.Name = "stale name wins";
            }
        }

        using (new DisableConcurrency())
        {
            await Save(stale, async);
        }

        await using var check = CreateContext();
        if (collection)
        {
            var stored = await check.Orders.SingleAsync(o => o.Id == order.Id);
            Assert.That((stored.Lines[0].Quantity, stored.Note, stored.Version), Is.EqualTo((5, ownerChangedToo ? "stale note wins" : "second", 3L)));
        }
        else
        {
            var stored = await check.Customers.SingleAsync(c => c.Id == customer.Id);
            Assert.That((stored.Address.City, stored.Name, stored.Version), Is.EqualTo(("New", ownerChangedToo ? "stale name wins" : "Ada L.", 3)));
        }
    }
}
