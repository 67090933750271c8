namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>The scope semantics of DisableConcurrency, without a database.</summary>
public sealed class DisableConcurrencyTests
{
    private sealed class Other;

    private class Base;

    private sealed class Derived : Base;

    [Test]
    public void Scopes_cover_all_types_or_the_given_ones_and_their_subtypes()
    {
        Assert.That(DisableConcurrency.IsDisabledFor(typeof(Base)), Is.False);
        using (new DisableConcurrency(typeof(Base)))
        {
            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Base)), Is.True);
            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Derived)), Is.True);
            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Other)), Is.False);
            using (new DisableConcurrency())
            {
                Assert.That(DisableConcurrency.IsDisabledFor(typeof(Other)), Is.True);
            }

            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Other)), Is.False, "the inner scope ended");
            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Base)), Is.True, "the outer one did not");
        }

        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [Test]
    public void Disposing_out_of_order_or_twice_never_leaves_a_disposed_scope_active()
    {
        var outer = new DisableConcurrency(typeof(Base));
        var inner = new DisableConcurrency(typeof(Other));
        outer.Dispose();
        Assert.That(DisableConcurrency.IsDisabledFor(typeof(Base)), Is.False);
        Assert.That(DisableConcurrency.IsDisabledFor(typeof(Other)), Is.True);
        inner.Dispose();
        inner.Dispose();
        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [Test]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => _ = new DisableConcurrency(Array.Empty<Type>()));
        Assert.Throws<ArgumentException>(() => _ = new DisableConcurrency(typeof(Base), null!));
        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [Test]
    public async Task Two_hundred_parallel_flows_never_see_each_others_scope()
    {
        using var start = new ManualResetEventSlim();
        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            var mine = i % 3 == 0 ? null : i % 3 == 1 ? typeof(Base) : typeof(Other);
            start.Wait(TimeSpan.FromSeconds(10));
            using var scope = mine is null ? null : new DisableConcurrency(mine);
            var ok = true;
            for (var step = 0; step < 20; step++)
            {
                await Task.Yield();
                ok &= DisableConcurrency.IsDisabledFor(typeof(Base)) == (mine == typeof(Base));
                ok &= DisableConcurrency.IsDisabledFor(typeof(Other)) == (mine == typeof(Other));
            }

            return ok;
        })).Append(Task.Run(() =>
        {
            start.Set();
            return true;
        })));

        Assert.That(results, Is.All.True);
        Assert.That(DisableConcurrency.IsActive, Is.False);
    }

    [Test]
    public async Task A_scope_flows_into_awaited_calls_but_not_back_out_of_them()
    {
        async Task Inner()
        {
            await Task.Yield();
            Assert.That(DisableConcurrency.IsDisabledFor(typeof(Base)), Is.True);
        }

        async Task OpenWithoutClosing()
        {
            await Task.Yield();
            _ = new DisableConcurrency();
        }

        using (new DisableConcurrency(typeof(Base)))
        {
            await Inner();
        }

        await OpenWithoutClosing();
        Assert.That(DisableConcurrency.IsActive, Is.False, "a scope opened in a callee does not leak into the caller");
    }
}
