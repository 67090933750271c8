using System.Collections;
using System.Data;
using System.Data.Common;
using Concurrency.EntityFrameworkCore.Query.Internal;
using Concurrency.EntityFrameworkCore.Storage.Internal;

namespace Concurrency.EntityFrameworkCore.Diagnostics.Internal;

/// <summary>
///     The reader of a locking query, returned by <see cref="RowLockCommandInterceptor" /> in place of the provider's when
///     the rows need something as they are read: a lock error raised after the first rows (PostgreSQL reports a row it
///     cannot lock when the scan reaches it, so <c>Read</c> throws it, where EF's <c>CommandFailed</c> never sees it) is
///     translated like one raised when the command starts; and entities the context already tracks are refreshed from the
///     locked row before EF's identity resolution hands them back (<see cref="TrackedRowRefresher" />). Every other member
///     forwards to the provider's reader.
/// </summary>
internal sealed class RowLockDataReader(
    DbDataReader inner,
    RowLockRequest request,
    DatabaseDialect? translateErrorsFor,
    TrackedRowRefresher? refresher) : DbDataReader
{
    public override bool Read()
    {
        bool read;
        try
        {
            read = inner.Read();
        }
        catch (DbException exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }

        if (read)
        {
            refresher?.Refresh(inner);
        }

        return read;
    }

    public override async Task<bool> ReadAsync(CancellationToken cancellationToken)
    {
        bool read;
        try
        {
            read = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }

        if (read)
        {
            refresher?.Refresh(inner);
        }

        return read;
    }

    public override bool NextResult()
    {
        try
        {
            return inner.NextResult();
        }
        catch (DbException exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }
    }

    public override async Task<bool> NextResultAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await inner.NextResultAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbException exception) when (Translate(exception) is { } translated)
        {
            throw translated;
        }
    }

    private Exception? Translate(DbException exception)
        => translateErrorsFor is null ? null : RowLockErrors.Translate(translateErrorsFor, request, exception);

    public override int Depth => inner.Depth;

    public override int FieldCount => inner.FieldCount;

    public override bool HasRows => inner.HasRows;

    public override bool IsClosed => inner.IsClosed;

    public override int RecordsAffected => inner.RecordsAffected;

    public override int VisibleFieldCount => inner.VisibleFieldCount;

    public override object this[int ordinal] => inner[ordinal];

    public override object this[string name] => inner[name];

    public override bool GetBoolean(int ordinal) => inner.GetBoolean(ordinal);

    public override byte GetByte(int ordinal) => inner.GetByte(ordinal);

    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length)
        => inner.GetBytes(ordinal, dataOffset, buffer, bufferOffset, length);

    public override char GetChar(int ordinal) => inner.GetChar(ordinal);

    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length)
        => inner.GetChars(ordinal, dataOffset, buffer, bufferOffset, length);

    public override string GetDataTypeName(int ordinal) => inner.GetDataTypeName(ordinal);

    public override DateTime GetDateTime(int ordinal) => inner.GetDateTime(ordinal);

    public override decimal GetDecimal(int ordinal) => inner.GetDecimal(ordinal);

    public override double GetDouble(int ordinal) => inner.GetDouble(ordinal);

    public override IEnumerator GetEnumerator() => new DbEnumerator(this, closeReader: false);

    public override Type GetFieldType(int ordinal) => inner.GetFieldType(ordinal);

    public override T GetFieldValue<T>(int ordinal) => inner.GetFieldValue<T>(ordinal);

    public override Task<T> GetFieldValueAsync<T>(int ordinal, CancellationToken cancellationToken)
        => inner.GetFieldValueAsync<T>(ordinal, cancellationToken);

    public override float GetFloat(int ordinal) => inner.GetFloat(ordinal);

    public override Guid GetGuid(int ordinal) => inner.GetGuid(ordinal);

    public override short GetInt16(int ordinal) => inner.GetInt16(ordinal);

    public override int GetInt32(int ordinal) => inner.GetInt32(ordinal);

    public override long GetInt64(int ordinal) => inner.GetInt64(ordinal);

    public override string GetName(int ordinal) => inner.GetName(ordinal);

    public override int GetOrdinal(string name) => inner.GetOrdinal(name);

    public override Type GetProviderSpecificFieldType(int ordinal) => inner.GetProviderSpecificFieldType(ordinal);

    public override object GetProviderSpecificValue(int ordinal) => inner.GetProviderSpecificValue(ordinal);

    public override int GetProviderSpecificValues(object[] values) => inner.GetProviderSpecificValues(values);

    public override DataTable? GetSchemaTable() => inner.GetSchemaTable();

    public override Task<DataTable?> GetSchemaTableAsync(CancellationToken cancellationToken = default)
        => inner.GetSchemaTableAsync(cancellationToken);

    public override Stream GetStream(int ordinal) => inner.GetStream(ordinal);

    public override string GetString(int ordinal) => inner.GetString(ordinal);

    public override TextReader GetTextReader(int ordinal) => inner.GetTextReader(ordinal);

    public override object GetValue(int ordinal) => inner.GetValue(ordinal);

    public override int GetValues(object[] values) => inner.GetValues(values);

    public override bool IsDBNull(int ordinal) => inner.IsDBNull(ordinal);

    public override Task<bool> IsDBNullAsync(int ordinal, CancellationToken cancellationToken)
        => inner.IsDBNullAsync(ordinal, cancellationToken);

    public override void Close() => inner.Close();

    public override Task CloseAsync() => inner.CloseAsync();

    public override ValueTask DisposeAsync() => inner.DisposeAsync();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
