using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Migrations;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>Version triggers in hand-written migrations.</summary>
/// <remarks>
///     Migrations applied through a context configured with <c>UseConcurrency()</c> already (re)create the triggers of
///     every table they create or alter. Use these to add a trigger to an existing table explicitly, or to drop one.
/// </remarks>
public static class ConcurrencyMigrationBuilderExtensions
{
    /// <summary>Creates (or replaces) the trigger that increments <paramref name="column" /> on every UPDATE of <paramref name="table" />.</summary>
    /// <param name="migrationBuilder">The migration builder.</param>
    /// <param name="table">The table name.</param>
    /// <param name="column">The version column.</param>
    /// <param name="schema">The table's schema, or <see langword="null" /> for the default.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MigrationBuilder CreateVersionTrigger(this MigrationBuilder migrationBuilder, string table, string column, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        ArgumentException.ThrowIfNullOrWhiteSpace(table);
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        foreach (var sql in DatabaseDialect.RequireTriggers(migrationBuilder.ActiveProvider).CreateTrigger(table, schema, column))
        {
            migrationBuilder.Sql(sql);
        }

        return migrationBuilder;
    }

    /// <summary>Drops the version trigger of <paramref name="column" /> on <paramref name="table" />, if it exists.</summary>
    /// <param name="migrationBuilder">The migration builder.</param>
    /// <param name="table">The table name.</param>
    /// <param name="column">The version column.</param>
    /// <param name="schema">The table's schema, or <see langword="null" /> for the default.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static MigrationBuilder DropVersionTrigger(this MigrationBuilder migrationBuilder, string table, string column, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        ArgumentException.ThrowIfNullOrWhiteSpace(table);
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        foreach (var sql in DatabaseDialect.RequireTriggers(migrationBuilder.ActiveProvider).DropTrigger(table, schema, column))
        {
            migrationBuilder.Sql(sql);
        }

        return migrationBuilder;
    }
}
