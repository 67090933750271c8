namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     Marks an <see cref="int" /> or <see cref="long" /> property as the entity's version field: the version starts at 1
///     on insert, is incremented by one in every UPDATE that EF Core sends, and every UPDATE and DELETE only succeeds
///     when the row still has the version that was loaded. A stale save throws <see cref="RecordModifiedException" />.
/// </summary>
/// <remarks>
///     Takes effect when the context is configured with <c>optionsBuilder.UseConcurrency()</c> and
///     <c>modelBuilder.UseVersioning()</c>. Fluent configuration (<c>IsVersionField()</c> and friends) wins over the
///     attribute. An entity type (including its base types) can have only one version field.
/// </remarks>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public class VersionFieldAttribute : Attribute
{
    /// <summary>The kind of version field this attribute declares.</summary>
    public virtual VersionFieldKind Kind
        => VersionFieldKind.Integer;
}

/// <summary>
///     Marks an <see cref="int" /> or <see cref="long" /> property as a version field maintained by a database trigger:
///     every UPDATE of the row, from EF Core or from any other client (raw SQL, psql, another service), increments it.
///     EF Core reads the new value back after each save, and stale saves throw <see cref="RecordModifiedException" />.
/// </summary>
/// <remarks>
///     The trigger is created by <c>EnsureCreated</c>, by migrations that create or alter the table, or explicitly with
///     <c>context.Database.CreateVersionTriggers()</c>. Supported on PostgreSQL and SQLite.
/// </remarks>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class TriggerVersionFieldAttribute : VersionFieldAttribute
{
    /// <inheritdoc />
    public override VersionFieldKind Kind
        => VersionFieldKind.Trigger;
}

/// <summary>
///     Marks an <see cref="int" /> or <see cref="long" /> property as a version field that is incremented only when a
///     watched property changes. The version is still compared on every UPDATE, so a stale save fails whenever
///     someone else changed a watched property meanwhile, and succeeds when they only changed unwatched ones.
/// </summary>
/// <remarks>
///     Set <see cref="CheckFields" /> to watch only the listed properties, or <see cref="IgnoreFields" /> to watch
///     every mapped property except the listed ones; with neither, every mapped property is watched. Setting both is an
///     error.
/// </remarks>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class ConditionalVersionFieldAttribute : VersionFieldAttribute
{
    /// <inheritdoc />
    public override VersionFieldKind Kind
        => VersionFieldKind.Conditional;

    /// <summary>
    ///     The names of the properties whose change bumps the version. Defaults to none, meaning all mapped properties
    ///     (minus <see cref="IgnoreFields" />).
    /// </summary>
    public string[]? CheckFields { get; set; }

    /// <summary>
    ///     The names of the properties whose change does not bump the version. Defaults to none.
    /// </summary>
    public string[]? IgnoreFields { get; set; }
}
