using System.Security.Cryptography;
using System.Text;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     The SQL that differs between databases: creating, dropping and listing version triggers, and locking rows that
///     DisableConcurrency reads. The only place where PostgreSQL and SQLite differ; keyed by EF Core provider name so the
///     core package needs no provider dependency.
/// </summary>
internal abstract class VersionTriggerDialect
{
    public const string NpgsqlProviderName = "Npgsql.EntityFrameworkCore.PostgreSQL";
    public const string SqliteProviderName = "Microsoft.EntityFrameworkCore.Sqlite";

    private const int MaxIdentifierLength = 63;

    public static VersionTriggerDialect? For(string? providerName)
        => providerName switch
        {
            NpgsqlProviderName => PostgresVersionTriggerDialect.Instance,
            SqliteProviderName => SqliteVersionTriggerDialect.Instance,
            _ => null,
        };

    public static VersionTriggerDialect Require(string? providerName)
        => For(providerName)
            ?? throw new NotSupportedException(
                $"Version triggers are not supported on the database provider '{providerName ?? "(none)"}'. Supported: PostgreSQL"
                + $" ({NpgsqlProviderName}) and SQLite ({SqliteProviderName}). Use [VersionField] instead, which works on any"
                + " relational provider.");

    /// <summary>The trigger's name: <c>{table}_{column}_version</c>, shortened with a hash past 63 characters.</summary>
    public static string TriggerName(string table, string column)
    {
        var name = $"{table}_{column}_version";
        if (name.Length <= MaxIdentifierLength)
        {
            return name;
        }

        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8].ToLowerInvariant();
        return name[..(MaxIdentifierLength - 9)] + "_" + hash;
    }

    /// <summary>
    ///     Appended to a SELECT to lock the rows it reads until the transaction ends (for DisableConcurrency); empty where
    ///     the transaction itself already holds the write lock.
    /// </summary>
    public abstract string RowLockClause { get; }

    /// <summary>Statements that create the trigger (idempotent: running them twice leaves one trigger).</summary>
    public abstract IReadOnlyList<string> CreateTrigger(string table, string? schema, string column);

    /// <summary>Statements that drop the trigger if it exists.</summary>
    public abstract IReadOnlyList<string> DropTrigger(string table, string? schema, string column);

    /// <summary>A query returning one column named <c>Value</c>: the names of all triggers in the database.</summary>
    public abstract string ListTriggers();

    public static string Quote(string identifier)
        => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Qualify(string name, string? schema)
        => schema is null ? Quote(name) : Quote(schema) + "." + Quote(name);
}

/// <summary>PostgreSQL: a BEFORE UPDATE row trigger sets NEW.version = OLD.version + 1, so RETURNING sees the new value.</summary>
internal sealed class PostgresVersionTriggerDialect : VersionTriggerDialect
{
    public static readonly PostgresVersionTriggerDialect Instance = new();

    public override string RowLockClause
        => " FOR UPDATE";

    public override IReadOnlyList<string> CreateTrigger(string table, string? schema, string column)
    {
        var name = TriggerName(table, column);
        var function = Qualify(name, schema);
        return
        [
            $"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.{Quote(column)} := OLD.{Quote(column)} + 1; RETURN NEW; END $$;",
            $"CREATE OR REPLACE TRIGGER {Quote(name)} BEFORE UPDATE ON {Qualify(table, schema)} FOR EACH ROW EXECUTE FUNCTION {function}();",
        ];
    }

    public override IReadOnlyList<string> DropTrigger(string table, string? schema, string column)
    {
        var name = TriggerName(table, column);
        return
        [
            $"DROP TRIGGER IF EXISTS {Quote(name)} ON {Qualify(table, schema)};",
            $"DROP FUNCTION IF EXISTS {Qualify(name, schema)}();",
        ];
    }

    public override string ListTriggers()
        => "SELECT t.tgname::text AS \"Value\" FROM pg_trigger t WHERE NOT t.tgisinternal";
}

/// <summary>
///     SQLite: triggers cannot change NEW, so an AFTER UPDATE trigger increments the row it fired for (recursive triggers
///     are off by default, so its own UPDATE does not fire it again). EF reads the value back with a SELECT because the
///     trigger is declared in the model.
/// </summary>
internal sealed class SqliteVersionTriggerDialect : VersionTriggerDialect
{
    public static readonly SqliteVersionTriggerDialect Instance = new();

    // A transaction begun through EF on SQLite is BEGIN IMMEDIATE: it holds the database's write lock already.
    public override string RowLockClause
        => string.Empty;

    public override IReadOnlyList<string> CreateTrigger(string table, string? schema, string column)
    {
        var name = TriggerName(table, column);
        return
        [
            $"CREATE TRIGGER IF NOT EXISTS {Quote(name)} AFTER UPDATE ON {Quote(table)} FOR EACH ROW BEGIN"
            + $" UPDATE {Quote(table)} SET {Quote(column)} = OLD.{Quote(column)} + 1 WHERE rowid = NEW.rowid; END;",
        ];
    }

    public override IReadOnlyList<string> DropTrigger(string table, string? schema, string column)
        => [$"DROP TRIGGER IF EXISTS {Quote(TriggerName(table, column))};"];

    public override string ListTriggers()
        => "SELECT name AS \"Value\" FROM sqlite_master WHERE type = 'trigger'";
}
