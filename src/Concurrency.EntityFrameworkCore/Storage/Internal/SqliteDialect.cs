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

    /// <summary>
    ///     A write of nothing: SQLite takes the write lock (RESERVED; in WAL mode, the write transaction) when a write
    ///     statement starts, whether or not it changes a row, so this upgrades a deferred transaction. It needs a table of
    ///     the main database (a temp table or a schema no-op takes no lock), and the locking query's own table exists.
    /// </summary>
    public override string WriteLockSql
        => "DELETE FROM {0} WHERE 0";

    /// <summary>
    ///     Microsoft.Data.Sqlite begins <c>BEGIN IMMEDIATE</c> for every isolation level but <c>ReadUncommitted</c>, which it
    ///     begins deferred (<c>SqliteConnection.BeginTransaction(IsolationLevel)</c>).
    /// </summary>
    public override bool BeginTakesWriteLock(System.Data.IsolationLevel isolationLevel)
        => isolationLevel != System.Data.IsolationLevel.ReadUncommitted;

    /// <summary>SQLITE_CONSTRAINT (19) for a UNIQUE index or the primary key.</summary>
    public override bool IsUniqueViolation(DbException exception)
        => SqliteErrorCode(exception) == 19 && exception.Message.Contains("UNIQUE constraint failed", StringComparison.Ordinal);

    /// <summary>SQLITE_BUSY (5) and SQLITE_LOCKED (6): another connection holds the database's lock.</summary>
    public override RowLockFailure ClassifyRowLockError(DbException exception)
        => SqliteErrorCode(exception) is 5 or 6 ? RowLockFailure.NotAvailable : RowLockFailure.None;

    /// <summary>
    ///     The primary SQLite result code of a <c>SqliteException</c> (its <c>SqliteErrorCode</c>; <c>DbException.ErrorCode</c>
    ///     is E_FAIL there), read by name because this package does not depend on Microsoft.Data.Sqlite.
    /// </summary>
    private static int? SqliteErrorCode(DbException exception)
        => exception.GetType().GetProperty("SqliteErrorCode")?.GetValue(exception) as int?;

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
