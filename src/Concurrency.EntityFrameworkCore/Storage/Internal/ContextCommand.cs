using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Concurrency.EntityFrameworkCore.Storage.Internal;

/// <summary>
///     One command of SQL the library sends itself, built with the context's <see cref="IRelationalCommandBuilderFactory" />
///     and run through EF's relational command pipeline on the context's <see cref="IRelationalConnection" /> (so in its
///     current transaction), so that the application's <c>LogTo</c>, command interceptors and diagnostic listeners (and
///     OpenTelemetry's EF instrumentation) see and can intercept it like EF's own commands.
/// </summary>
internal sealed class ContextCommand
{
    private readonly DbContext _context;
    private readonly CommandSource _source;
    private readonly IRelationalCommandBuilder _builder;
    private readonly Dictionary<string, object?> _parameterValues = new(StringComparer.Ordinal);

    /// <param name="context">The context whose connection, transaction, logger and interceptors run the command.</param>
    /// <param name="source">What interceptors see as the command's source: the save it belongs to, or <c>Unknown</c>.</param>
    public ContextCommand(DbContext context, CommandSource source)
    {
        _context = context;
        _source = source;
        _builder = context.GetService<IRelationalCommandBuilderFactory>().Create();
    }

    public ContextCommand Append(string sql)
    {
        _builder.Append(sql);
        return this;
    }

    /// <summary>Adds a parameter typed by the property's own type mapping (so conversions match EF's) and returns its name.</summary>
    public string AddParameter(IProperty property, object? value)
    {
        var invariantName = "cv" + _parameterValues.Count.ToString(CultureInfo.InvariantCulture);
        var name = "@" + invariantName;
        _builder.AddParameter(invariantName, name, property.GetRelationalTypeMapping(), nullable: null);
        _parameterValues.Add(invariantName, value);
        return name;
    }

    /// <summary>Adds a parameter of a CLR type, typed by the provider's default mapping of that type, and returns its name.</summary>
    public string AddParameter(Type clrType, object? value)
    {
        var mapping = _context.GetService<IRelationalTypeMappingSource>().FindMapping(clrType)
            ?? throw new InvalidOperationException($"The database provider has no mapping for '{clrType.Name}'.");
        var invariantName = "cv" + _parameterValues.Count.ToString(CultureInfo.InvariantCulture);
        var name = "@" + invariantName;
        _builder.AddParameter(invariantName, name, mapping, nullable: value is null);
        _parameterValues.Add(invariantName, value);
        return name;
    }

    /// <summary>Runs the command; the caller disposes the reader, which also releases the connection the command opened.</summary>
    public async ValueTask<RelationalDataReader> ExecuteReaderAsync(bool async, CancellationToken cancellationToken)
        => async
            ? await _builder.Build().ExecuteReaderAsync(Parameters(), cancellationToken).ConfigureAwait(false)
            : _builder.Build().ExecuteReader(Parameters());

    public async ValueTask<int> ExecuteNonQueryAsync(bool async, CancellationToken cancellationToken)
        => async
            ? await _builder.Build().ExecuteNonQueryAsync(Parameters(), cancellationToken).ConfigureAwait(false)
            : _builder.Build().ExecuteNonQuery(Parameters());

    private RelationalCommandParameterObject Parameters()
        => new(
            _context.GetService<IRelationalConnection>(),
            _parameterValues,
            readerColumns: null,
            _context,
            _context.GetService<IRelationalCommandDiagnosticsLogger>(),
            _source);
}
