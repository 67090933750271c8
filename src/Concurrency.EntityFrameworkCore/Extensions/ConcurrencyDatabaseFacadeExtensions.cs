using Concurrency.EntityFrameworkCore;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Manages the database triggers behind <see cref="TriggerVersionFieldAttribute" />. <c>EnsureCreated</c> and
///     migrations create them already; these calls are for databases made another way and for health checks.
/// </summary>
public static class ConcurrencyDatabaseFacadeExtensions
{
    /// <summary>Creates (or replaces) the version trigger of every trigger version field in the model.</summary>
    /// <param name="database">The context's database facade.</param>
    /// <returns>The triggers that were created.</returns>
    public static IReadOnlyList<VersionTriggerInfo> CreateVersionTriggers(this DatabaseFacade database)
        => ExecuteForEachAsync(database, static (d, t) => d.CreateTrigger(t.Table, t.Schema, t.Column), async: false, default)
            .GetAwaiter().GetResult();

    /// <inheritdoc cref="CreateVersionTriggers(DatabaseFacade)" />
    /// <param name="database">The context's database facade.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static Task<IReadOnlyList<VersionTriggerInfo>> CreateVersionTriggersAsync(
        this DatabaseFacade database,
        CancellationToken cancellationToken = default)
        => ExecuteForEachAsync(database, static (d, t) => d.CreateTrigger(t.Table, t.Schema, t.Column), async: true, cancellationToken)
            .AsTask();

    /// <summary>
    ///     Drops the version trigger of every trigger version field in the model, if it exists. Afterwards raw SQL
    ///     updates no longer bump versions: use it before a data fix you want invisible to editors, then create them again.
    /// </summary>
    /// <param name="database">The context's database facade.</param>
    /// <returns>The triggers the model declares.</returns>
    public static IReadOnlyList<VersionTriggerInfo> DropVersionTriggers(this DatabaseFacade database)
        => ExecuteForEachAsync(database, static (d, t) => d.DropTrigger(t.Table, t.Schema, t.Column), async: false, default)
            .GetAwaiter().GetResult();

    /// <inheritdoc cref="DropVersionTriggers(DatabaseFacade)" />
    /// <param name="database">The context's database facade.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static Task<IReadOnlyList<VersionTriggerInfo>> DropVersionTriggersAsync(
        this DatabaseFacade database,
        CancellationToken cancellationToken = default)
        => ExecuteForEachAsync(database, static (d, t) => d.DropTrigger(t.Table, t.Schema, t.Column), async: true, cancellationToken)
            .AsTask();

    /// <summary>Lists the version triggers the model requires, each with whether it exists in the database.</summary>
    /// <param name="database">The context's database facade.</param>
    /// <returns>One entry per trigger version field.</returns>
    public static IReadOnlyList<VersionTriggerStatus> GetVersionTriggers(this DatabaseFacade database)
    {
        var (triggers, dialect) = Prepare(database);
        var existing = database.SqlQueryRaw<string>(dialect.ListTriggers()).ToHashSet(StringComparer.Ordinal);
        return triggers.Select(t => new VersionTriggerStatus(t, existing.Contains(t.Name))).ToList();
    }

    /// <inheritdoc cref="GetVersionTriggers(DatabaseFacade)" />
    /// <param name="database">The context's database facade.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public static async Task<IReadOnlyList<VersionTriggerStatus>> GetVersionTriggersAsync(
        this DatabaseFacade database,
        CancellationToken cancellationToken = default)
    {
        var (triggers, dialect) = Prepare(database);
        var existing = (await database.SqlQueryRaw<string>(dialect.ListTriggers()).ToListAsync(cancellationToken).ConfigureAwait(false))
            .ToHashSet(StringComparer.Ordinal);
        return triggers.Select(t => new VersionTriggerStatus(t, existing.Contains(t.Name))).ToList();
    }

    /// <summary>
    ///     Fails when a version trigger the model requires is missing from the database (the analogue of
    ///     django-concurrency's W001 check). A missing trigger means raw SQL updates go unnoticed. Call it at startup or
    ///     in a health check.
    /// </summary>
    /// <param name="database">The context's database facade.</param>
    /// <exception cref="MissingVersionTriggersException">One or more triggers are missing; the message names them.</exception>
    public static void VerifyVersionTriggers(this DatabaseFacade database)
        => ThrowIfMissing(GetVersionTriggers(database));

    /// <inheritdoc cref="VerifyVersionTriggers(DatabaseFacade)" />
    /// <param name="database">The context's database facade.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    public static async Task VerifyVersionTriggersAsync(this DatabaseFacade database, CancellationToken cancellationToken = default)
        => ThrowIfMissing(await GetVersionTriggersAsync(database, cancellationToken).ConfigureAwait(false));

    private static void ThrowIfMissing(IReadOnlyList<VersionTriggerStatus> statuses)
    {
        var missing = statuses.Where(s => !s.Exists).Select(s => s.Trigger).ToList();
        if (missing.Count > 0)
        {
            throw new MissingVersionTriggersException(missing);
        }
    }

    /// <summary>The shared core of create and drop: runs the dialect's statements for every trigger the model needs.</summary>
    private static async ValueTask<IReadOnlyList<VersionTriggerInfo>> ExecuteForEachAsync(
        DatabaseFacade database,
        Func<DatabaseDialect, VersionTriggerInfo, IReadOnlyList<string>> statements,
        bool async,
        CancellationToken cancellationToken)
    {
        var (triggers, dialect) = Prepare(database);
        foreach (var trigger in triggers)
        {
            foreach (var sql in statements(dialect, trigger))
            {
                if (async)
                {
                    await database.ExecuteSqlRawAsync(sql, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    database.ExecuteSqlRaw(sql);
                }
            }
        }

        return triggers;
    }

    private static (IReadOnlyList<VersionTriggerInfo> Triggers, DatabaseDialect Dialect) Prepare(DatabaseFacade database)
    {
        ArgumentNullException.ThrowIfNull(database);
        var context = database.GetService<ICurrentDbContext>().Context;
        var triggers = VersionTriggers.FromModel(context.Model);
        return (triggers, DatabaseDialect.RequireTriggers(database.ProviderName));
    }
}
