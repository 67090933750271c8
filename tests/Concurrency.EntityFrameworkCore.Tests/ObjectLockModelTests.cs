using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>How object locks are configured and validated when the model is built (no database).</summary>
public sealed class ObjectLockModelTests
{
    public class Lockable : ILockable
    {
        public int Id { get; set; }

        public bool IsLocked { get; set; }
    }

    public class ExplicitLockable : ILockable
    {
        public int Id { get; set; }

        bool ILockable.IsLocked => false;
    }

    public class Frozen
    {
        public int Id { get; set; }

        public bool IsFrozen { get; set; }

        public string? Holder { get; set; }
    }

    private static string BuildFails(Action<ModelBuilder> configure)
    {
        using var context = new ModelContext(configure);
        var exception = Assert.Throws<InvalidOperationException>(() => _ = context.Model);
        return exception!.Message;
    }

    [Test]
    public void An_ILockable_class_gets_a_lock_on_IsLocked_and_fluent_configuration_wins()
    {
        using var context = new ModelContext(m => m.Entity<Lockable>());
        Assert.That(context.Model.FindEntityType(typeof(Lockable))!["Concurrency:ObjectLock"], Is.EqualTo("IsLocked"));

        using var fluent = new ModelContext(m => m.Entity<Frozen>().HasObjectLock(f => f.IsFrozen, lockedBy: f => f.Holder));
        var frozen = fluent.Model.FindEntityType(typeof(Frozen))!;
        Assert.That((frozen["Concurrency:ObjectLock"], frozen["Concurrency:LockedBy"]), Is.EqualTo(("IsFrozen", "Holder")));
    }

    [Test]
    public void An_explicit_interface_implementation_fails_with_the_fix()
        => Assert.That(
            BuildFails(m => m.Entity<ExplicitLockable>()),
            Does.Contain("ExplicitLockable' implements ILockable, but has no mapped property 'IsLocked'").And.Contain("HasObjectLock"));

    [Test]
    public void A_lock_on_a_context_without_UseConcurrency_fails_before_anything_is_tracked()
    {
        static void Configure(ModelBuilder m)
        {
            m.Entity<Lockable>();
            m.UseVersioning();
        }

        using var context = new ModelContext(Configure, useConcurrency: false);
        var exception = Assert.Throws<InvalidOperationException>(() => context.Attach(new Lockable { Id = 1 }));
        Assert.That(exception!.Message, Does.Contain("IsLocked' is an object lock").And.Contain("UseConcurrency()"));

        using var fluent = new ModelContext(m => m.Entity<Frozen>().HasObjectLock(f => f.IsFrozen), useConcurrency: false);
        Assert.Throws<InvalidOperationException>(() => fluent.Attach(new Frozen { Id = 1 }));

        using var configured = new ModelContext(Configure);
        Assert.DoesNotThrow(() => configured.Attach(new Lockable { Id = 1 }));
    }
}
