using System.Data.Common;
using System.Security.Cryptography;
using System.Text;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     The SQL that differs between databases: the clause that locks rows a SELECT reads, and the DDL of version
///     triggers. One small strategy per provider (<see cref="PostgresDialect" />, <see cref="SqliteDialect" />), chosen
///     once per EF service provider from the provider's name (registered as a singleton service by <c>UseConcurrency()</c>),
///     so the core package needs no provider dependency and the save path compares no strings.
/// </summary>
internal abstract class DatabaseDialect
{
    public const string NpgsqlProviderName = "Npgsql.EntityFrameworkCore.PostgreSQL";
    public const string SqliteProviderName = "Microsoft.EntityFrameworkCore.Sqlite";

    private const int MaxIdentifierLength = 63;

    /// <summary>The dialect of the EF Core provider named <paramref name="providerName" />; a generic one for others.</summary>
    public static DatabaseDialect For(string? providerName)
        => providerName switch
        {
            NpgsqlProviderName => PostgresDialect.Instance,
            SqliteProviderName => SqliteDialect.Instance,
            _ => GenericDialect.Instance,
        };

    /// <summary>The dialect of <paramref name="providerName" /> when it supports version triggers; otherwise throws a message naming the provider.</summary>
    public static DatabaseDialect RequireTriggers(string? providerName)
        => For(providerName) is { SupportsTriggers: true } dialect
            ? dialect
            : throw new NotSupportedException(
                $"Version triggers are not supported on the database provider '{providerName ?? "(none)"}'. Supported: PostgreSQL"
                + $" ({NpgsqlProviderName}) and SQLite ({SqliteProviderName}). Use [VersionField] instead, which works on any"
                + " relational provider.");

    /// <summary>Whether this library can create version triggers on the database.</summary>
    public virtual bool SupportsTriggers
        => true;

    /// <summary>
    ///     Appended to a SELECT to lock the rows it reads until the transaction ends; empty where the transaction itself
    ///     already holds the write lock.
    /// </summary>
    public abstract string RowLockClause { get; }

    /// <summary>
    ///     Appended to a SELECT to keep the rows it reads from being changed (or locked) by others until the transaction
    ///     ends, while letting others read them the same way; empty where the transaction holds the write lock.
    /// </summary>
    public abstract string ShareLockClause { get; }

    /// <summary>
    ///     Whether a transaction alone keeps the rows a locking query reads from other writers (SQLite: a transaction
    ///     begun through EF holds the database's write lock), so the query needs no lock clause in its SQL.
    /// </summary>
    public virtual bool TransactionLocksRows
        => false;

    /// <summary>
    ///     A statement taking a lock, held until the transaction ends, on the 64-bit key given as its one parameter
    ///     <c>{0}</c>, so that transactions creating the same row run one after another; null where the transaction
    ///     already serialises writers (SQLite).
    /// </summary>
    public virtual string? TransactionKeyLockSql
        => null;

    /// <summary>How this database takes named locks; null where the library has none.</summary>
    public virtual NamedLocks.NamedLockStrategy? NamedLocks
        => null;

    /// <summary>Whether <paramref name="exception" /> is a unique constraint violation.</summary>
    public virtual bool IsUniqueViolation(DbException exception)
        => exception.SqlState == "23505";

    /// <summary>What a database error of a locking query means: the lock could not be had, a deadlock, or neither.</summary>
    public virtual RowLockFailure ClassifyRowLockError(DbException exception)
        => exception.SqlState switch
        {
            "55P03" => RowLockFailure.NotAvailable,
            "40P01" => RowLockFailure.Deadlock,
            _ => RowLockFailure.None,
        };

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

    /// <summary>Statements that create the trigger (idempotent: running them twice leaves one trigger).</summary>
    public abstract IReadOnlyList<string> CreateTrigger(string table, string? schema, string column);

    /// <summary>Statements that drop the trigger if it exists.</summary>
    public abstract IReadOnlyList<string> DropTrigger(string table, string? schema, string column);

    /// <summary>A query returning one column named <c>Value</c>: the names of all triggers in the database.</summary>
    public abstract string ListTriggers();

    /// <summary>An identifier in double quotes (standard SQL; both supported databases accept it).</summary>
    public static string Quote(string identifier)
        => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Qualify(string name, string? schema)
        => schema is null ? Quote(name) : Quote(schema) + "." + Quote(name);

    /// <summary>Any other relational provider: no triggers; rows are read without a lock clause.</summary>
    private sealed class GenericDialect : DatabaseDialect
    {
        public static readonly GenericDialect Instance = new();

        public override bool SupportsTriggers
            => false;

        public override string RowLockClause
            => string.Empty;

        public override string ShareLockClause
            => string.Empty;

        public override IReadOnlyList<string> CreateTrigger(string table, string? schema, string column)
            => throw RequireTriggersFailed();

        public override IReadOnlyList<string> DropTrigger(string table, string? schema, string column)
            => throw RequireTriggersFailed();

        public override string ListTriggers()
            => throw RequireTriggersFailed();

        private static NotSupportedException RequireTriggersFailed()
            => new("Version triggers are supported on PostgreSQL and SQLite only. Use [VersionField] instead.");
    }
}
