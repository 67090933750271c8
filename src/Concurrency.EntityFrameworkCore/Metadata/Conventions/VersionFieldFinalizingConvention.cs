using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Metadata.Conventions;

namespace Concurrency.EntityFrameworkCore.Metadata.Conventions;

/// <summary>
///     When the model is finalized: validates every version field (one clear error per mistake), turns each into an EF
///     Core concurrency token, configures trigger versions as store-generated with a declared trigger (so SQLite does
///     not trust RETURNING for them), and arms the <see cref="VersionFieldGuard" />.
/// </summary>
internal sealed class VersionFieldFinalizingConvention(string? providerName, DatabaseDialect dialect) : IModelFinalizingConvention
{
    private const string SqliteUseSqlReturningClause = "Sqlite:UseSqlReturningClause";

    public void ProcessModelFinalizing(IConventionModelBuilder modelBuilder, IConventionContext<IConventionModelBuilder> context)
    {
        VersionFieldConfiguration.Validate(modelBuilder.Metadata, dialect.SupportsTriggers, providerName);

        foreach (var entityType in modelBuilder.Metadata.GetEntityTypes())
        {
            foreach (var property in entityType.GetDeclaredProperties())
            {
                var kind = VersionFieldConfiguration.GetKind(property);
                if (kind is null)
                {
                    continue;
                }

                var builder = property.Builder;
                builder.IsConcurrencyToken(true);
                if (kind == VersionFieldKind.Trigger)
                {
                    // EF's store-generation convention reacts to the default value by setting OnAdd after this
                    // convention returns; data-annotation precedence keeps OnAddOrUpdate (explicit fluent config still wins).
                    builder.HasDefaultValue(property.ClrType == typeof(int) ? (object)1 : 1L);
                    builder.ValueGenerated(ValueGenerated.OnAddOrUpdate, fromDataAnnotation: true);
                    // Keep a positive version set by the application on insert (an import), like [VersionField] does; an
                    // unset one (0) is left to the column's default of 1. Updates stay the trigger's.
                    builder.BeforeSave(PropertySaveBehavior.Save, fromDataAnnotation: true);
                    var table = StoreObjectIdentifier.Create(entityType, StoreObjectType.Table);
                    if (table is not null && dialect.SupportsTriggers)
                    {
                        var column = property.GetColumnName(table.Value) ?? property.Name;
                        entityType.Builder.HasTrigger(DatabaseDialect.TriggerName(table.Value.Name, column));
                        if (dialect is SqliteDialect)
                        {
                            // SQLite's RETURNING does not see changes made by AFTER triggers: make EF read the new version
                            // with a SELECT instead (what SQLite's UseSqlReturningClause(false) sets, by name so this
                            // package needs no SQLite dependency).
                            entityType.Builder.HasAnnotation(SqliteUseSqlReturningClause, false);
                        }
                    }
                }
                else
                {
                    builder.ValueGenerated(ValueGenerated.Never);
                }

                VersionFieldGuard.Arm(property);
            }
        }
    }
}
