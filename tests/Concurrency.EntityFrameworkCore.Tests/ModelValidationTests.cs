using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>Conventions and the clear errors for bad version-field configuration. No database is involved.</summary>
public sealed class ModelValidationTests
{
    private static IModel Build(Action<ModelBuilder> configure, bool postgres = false)
    {
        using var context = new ModelContext(configure, postgres: postgres);
        return context.Model;
    }

    private static string BuildFails(Action<ModelBuilder> configure, bool postgres = false)
        => Assert.Throws<InvalidOperationException>(() => Build(configure, postgres))!.Message;

    [Test]
    public void Attribute_makes_an_application_bumped_concurrency_token()
    {
        var property = Build(m => m.Entity<Article>().Property(a => a.Version)).FindEntityType(typeof(Article))!.FindProperty("Version")!;
        Assert.That(property.IsConcurrencyToken, Is.True);
        Assert.That(property.ValueGenerated, Is.EqualTo(ValueGenerated.Never));
        Assert.That(VersionFieldConfiguration.GetKind(property), Is.EqualTo(VersionFieldKind.Integer));
    }

    [Test]
    public void Trigger_attribute_makes_a_store_generated_token_with_a_declared_trigger_and_no_RETURNING_on_SQLite()
    {
        var entityType = Build(m => m.Entity<Page>().ToTable("Pages")).FindEntityType(typeof(Page))!;
        var property = entityType.FindProperty("Version")!;
        Assert.That(property.IsConcurrencyToken, Is.True);
        Assert.That(property.ValueGenerated, Is.EqualTo(ValueGenerated.OnAddOrUpdate));
        Assert.That(property.GetDefaultValue(), Is.EqualTo(1));
        Assert.That(entityType.GetDeclaredTriggers().Select(t => t.ModelName), Is.EqualTo(new[] { "Pages_Version_version" }));
        Assert.That(entityType.FindAnnotation("Sqlite:UseSqlReturningClause")?.Value, Is.EqualTo(false));
    }

    [Test]
    public void Explicit_fluent_configuration_wins_over_the_attribute()
    {
        var model = Build(m => m.Entity<Page>().Property(p => p.Version).IsVersionField());
        var property = model.FindEntityType(typeof(Page))!.FindProperty("Version")!;
        Assert.That(VersionFieldConfiguration.GetKind(property), Is.EqualTo(VersionFieldKind.Integer));
        Assert.That(property.ValueGenerated, Is.EqualTo(ValueGenerated.Never));
    }

    [Test]
    public void Fluent_configuration_and_HasVersionField_need_no_attribute()
    {
        var model = Build(m =>
        {
            m.Entity<Plain>().Property(p => p.Version).IsConditionalVersionField(checkFields: [nameof(Plain.Name)]);
            m.Entity<Plain>().Ignore(p => p.MaybeVersion);
        });
        var entityType = model.FindEntityType(typeof(Plain))!;
        var metadata = VersionFieldMetadata.Find(entityType)!;
        Assert.That(metadata.Kind, Is.EqualTo(VersionFieldKind.Conditional));
        Assert.That(metadata.WatchedProperties.Select(p => p.Name), Is.EqualTo(new[] { "Name" }));

        var shadow = Build(m => m.Entity<Plain>(b =>
        {
            b.Ignore(p => p.MaybeVersion);
            b.HasVersionField("RowVersion");
        })).FindEntityType(typeof(Plain))!.FindProperty("RowVersion")!;
        Assert.That(shadow.IsShadowProperty(), Is.True);
        Assert.That(shadow.ClrType, Is.EqualTo(typeof(long)));
        Assert.That(shadow.IsConcurrencyToken, Is.True);
    }

    [Test]
    public void Conditional_field_without_lists_watches_every_mapped_property_but_the_key_and_itself()
    {
        var model = Build(m => m.Entity<Plain>(b =>
        {
            b.Ignore(p => p.MaybeVersion);
            b.Property(p => p.Version).IsConditionalVersionField(ignoreFields: [nameof(Plain.Label)]);
        }));
        var metadata = VersionFieldMetadata.Find(model.FindEntityType(typeof(Plain))!)!;
        Assert.That(metadata.WatchedProperties.Select(p => p.Name), Is.EquivalentTo(new[] { "Name", "Stamp" }));
    }

    [TestCase(nameof(Plain.Label), "String")]
    [TestCase(nameof(Plain.Stamp), "DateTime")]
    [TestCase(nameof(Plain.MaybeVersion), "Nullable`1")]
    public void Unsupported_version_types_fail_with_entity_property_and_fix(string propertyName, string typeName)
    {
        var message = BuildFails(m => m.Entity<Plain>().Property(propertyName).IsVersionField());
        Assert.That(message, Does.Contain($"'Plain.{propertyName}'").And.Contain(typeName).And.Contain("int or long"));
    }

    [Test]
    public void Two_version_fields_on_one_entity_fail()
        => Assert.That(BuildFails(m => m.Entity<TwoVersions>()), Does.Contain("'TwoVersions'").And.Contain("'Version'").And.Contain("'Revision'").And.Contain("only one"));

    [Test]
    public void A_version_field_inherited_and_another_declared_fail()
        => Assert.That(BuildFails(m => m.Entity<DerivedWithVersion>()), Does.Contain("DerivedWithVersion").And.Contain("Revision"));

    [Test]
    public void A_watched_name_that_is_not_a_property_fails()
        => Assert.That(BuildFails(m => m.Entity<BadCheck>()), Does.Contain("'BadCheck.Version'").And.Contain("'Titel'").And.Contain("CheckFields"));

    [Test]
    public void CheckFields_and_IgnoreFields_together_fail()
    {
        Assert.That(BuildFails(m => m.Entity<BothLists>()), Does.Contain("'BothLists.Version'").And.Contain("both CheckFields and IgnoreFields"));
        Assert.Throws<ArgumentException>(() => Build(m => m.Entity<Plain>().Property(p => p.Version).IsConditionalVersionField(["Name"], ["Label"])));
    }

    [Test]
    public void Trigger_versions_are_refused_on_a_provider_without_trigger_support()
    {
        var exception = Assert.Throws<InvalidOperationException>(
            () => VersionFieldConfiguration.Validate(BuildTriggerModel(), triggersSupported: false, "Some.Other.Provider"));
        Assert.That(exception!.Message, Does.Contain("'Page.Version'").And.Contain("Some.Other.Provider").And.Contain("[VersionField]"));
    }

    private static IReadOnlyModel BuildTriggerModel()
    {
        var builder = new ModelBuilder();
        builder.Entity<Page>().Property(p => p.Version).IsTriggerVersionField();
        return builder.Model;
    }

    [Test]
    public void UseConcurrency_before_the_provider_fails_with_the_fix()
    {
        var exception = Assert.Throws<InvalidOperationException>(() =>
        {
            using var context = new DbContext(new DbContextOptionsBuilder().UseConcurrency().UseSqlite("Data Source=:memory:").Options);
            _ = context.Model;
        });
        Assert.That(exception!.Message, Does.Contain("UseConcurrency() was called before the database provider").And.Contain("UseSqlite(connectionString).UseConcurrency()"));
    }

    private static void Versioned(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Article>();
        modelBuilder.UseVersioning();
    }

    [Test]
    public void A_model_with_version_fields_on_a_context_without_UseConcurrency_fails_before_anything_is_tracked()
    {
        using var context = new ModelContext(Versioned, useConcurrency: false);
        var exception = Assert.Throws<InvalidOperationException>(() => context.Attach(new Article { Id = 1, Version = 3 }));
        Assert.That(exception!.Message, Does.Contain("'Article.Version' is a version field").And.Contain("UseConcurrency()"));

        using var configured = new ModelContext(Versioned);
        Assert.DoesNotThrow(() => configured.Attach(new Article { Id = 1, Version = 3 }));
    }
}
