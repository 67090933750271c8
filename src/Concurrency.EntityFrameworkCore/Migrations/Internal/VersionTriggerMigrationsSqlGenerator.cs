using Concurrency.EntityFrameworkCore.Metadata.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Concurrency.EntityFrameworkCore.Migrations.Internal;

/// <summary>
///     Wraps the provider's migrations SQL generator so version triggers reach the database by every schema route:
///     <c>EnsureCreated</c>, <c>Migrate</c> and generated scripts. After the provider's own SQL, it (re)creates the
///     trigger of every trigger version column whose table the operations created or altered (idempotently: SQLite
///     rebuilds tables on many ALTERs, which drops their triggers), and drops a trigger before its column is dropped.
/// </summary>
internal sealed class VersionTriggerMigrationsSqlGenerator(
    IMigrationsSqlGenerator inner,
    IRelationalCommandBuilderFactory commandBuilderFactory,
    DatabaseDialect dialect,
    ICurrentDbContext currentContext,
    IRelationalCommandDiagnosticsLogger logger) : IMigrationsSqlGenerator
{
    public IReadOnlyList<MigrationCommand> Generate(
        IReadOnlyList<MigrationOperation> operations,
        IModel? model = null,
        MigrationsSqlGenerationOptions options = MigrationsSqlGenerationOptions.Default)
    {
        var commands = inner.Generate(operations, model, options);
        if (!dialect.SupportsTriggers)
        {
            return commands;
        }

        var before = new List<MigrationCommand>();
        foreach (var drop in operations.OfType<DropColumnOperation>())
        {
            foreach (var sql in dialect.DropTrigger(drop.Table, drop.Schema, drop.Name))
            {
                before.Add(Command(sql));
            }
        }

        var after = new List<MigrationCommand>();
        if (model is not null)
        {
            var touched = new HashSet<(string Table, string? Schema)>();
            foreach (var operation in operations)
            {
                switch (operation)
                {
                    case CreateTableOperation create:
                        touched.Add((create.Name, create.Schema));
                        break;
                    case AlterTableOperation alter:
                        touched.Add((alter.Name, alter.Schema));
                        break;
                    case RenameTableOperation { NewName: { } newName } rename:
                        touched.Add((newName, rename.NewSchema ?? rename.Schema));
                        break;
                    case ITableMigrationOperation table:
                        touched.Add((table.Table, table.Schema));
                        break;
                }
            }

            foreach (var trigger in VersionTriggers.FromModel(model))
            {
                if (touched.Contains((trigger.Table, trigger.Schema)))
                {
                    foreach (var sql in dialect.CreateTrigger(trigger.Table, trigger.Schema, trigger.Column))
                    {
                        after.Add(Command(sql));
                    }
                }
            }
        }

        return before.Count == 0 && after.Count == 0 ? commands : [.. before, .. commands, .. after];
    }

    private MigrationCommand Command(string sql)
        => new(commandBuilderFactory.Create().Append(sql).Build(), currentContext.Context, logger);
}
