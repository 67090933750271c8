using System.Data.Common;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     SQLite: no row locks (a transaction begun through EF is <c>BEGIN IMMEDIATE</c> and holds the database's write
///     lock already). Triggers cannot change NEW, so an AFTER UPDATE trigger increments the row it fired for (recursive
///     triggers are off by default, so its own UPDATE does not fire it again); EF reads the value back with a SELECT
///     because the trigger is declared in the model.
/// </summary>
internal sealed class SqliteDialect : DatabaseDialect
{
    public static readonly SqliteDialect Instance = new();

    public override string RowLockClause
        => string.Empty;

    public override string ShareLockClause
        => string.Empty;

    public override NamedLocks.NamedLockStrategy NamedLocks
        => Internal.NamedLocks.SqliteNamedLocks.Instance;

    public override bool TransactionLocksRows
        => true;

    /// <summary>SQLITE_CONSTRAINT (19) for a UNIQUE index or the primary key.</summary>
    public override bool IsUniqueViolation(DbException exception)
        => exception.ErrorCode == 19 && exception.Message.Contains("UNIQUE constraint failed", StringComparison.Ordinal);

    /// <summary>SQLITE_BUSY (5) and SQLITE_LOCKED (6): another connection holds the database's lock.</summary>
    public override RowLockFailure ClassifyRowLockError(DbException exception)
        => exception.ErrorCode is 5 or 6 ? RowLockFailure.NotAvailable : RowLockFailure.None;

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
