namespace Concurrency.EntityFrameworkCore;

/// <summary>A version trigger the model requires and whether the database has it.</summary>
/// <param name="Trigger">The trigger.</param>
/// <param name="Exists">Whether a trigger of that name exists in the database.</param>
public sealed record VersionTriggerStatus(VersionTriggerInfo Trigger, bool Exists);

/// <summary>Thrown by <c>VerifyVersionTriggers</c> when triggers the model requires are missing from the database.</summary>
public sealed class MissingVersionTriggersException : InvalidOperationException
{
    /// <summary>Creates the exception for the given missing triggers.</summary>
    /// <param name="missing">The missing triggers.</param>
    internal MissingVersionTriggersException(IReadOnlyList<VersionTriggerInfo> missing)
        : base(
            "Version triggers are missing from the database, so raw SQL updates of these rows would not bump their versions: "
            + string.Join(", ", missing.Select(t => $"'{t.Name}' on table '{t.Table}' for {t.EntityType}.{t.Property}"))
            + ". Create them with context.Database.CreateVersionTriggers(), or in a migration with"
            + " migrationBuilder.CreateVersionTrigger(table, column).")
    {
        Missing = missing;
    }

    /// <summary>The missing triggers.</summary>
    public IReadOnlyList<VersionTriggerInfo> Missing { get; }
}
