namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     PostgreSQL: rows read before a save are locked with <c>FOR UPDATE</c>; a BEFORE UPDATE row trigger sets
///     <c>NEW.version = OLD.version + 1</c>, so RETURNING sees the new value.
/// </summary>
internal sealed class PostgresDialect : DatabaseDialect
{
    public static readonly PostgresDialect Instance = new();

    public override string RowLockClause
        => " FOR UPDATE";

    public override string ShareLockClause
        => " FOR SHARE";

    public override NamedLocks.NamedLockStrategy NamedLocks
        => Internal.NamedLocks.PostgresNamedLocks.Instance;

    public override string TransactionKeyLockSql
        => "SELECT pg_advisory_xact_lock({0})";

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
