using System.Collections.Concurrent;
using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using Concurrency.EntityFrameworkCore.Storage.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Query;
using Microsoft.EntityFrameworkCore.Query.SqlExpressions;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>
///     What the command interceptor needs to know about a locking query's rows, which only EF's query pipeline knows: the
///     reader column of each property of the locked entities a tracking query materializes (to refresh the entities the
///     context already tracks, <c>TrackedRowRefresher</c>), and, on SQLite, the table the query reads (to take the write
///     lock with a write to it). Carried from the postprocessor to the command as a query tag, because the tag is the
///     only thing of a query that reaches its command; read back once per model and tag text and cached on the model.
/// </summary>
/// <remarks>
///     Format: <c>concurrency:lock-plan:t=&lt;table&gt;|e=&lt;entity type&gt;:&lt;ordinal&gt;=&lt;alias&gt;,...|...</c>, one
///     entry per property of the entity type and its derived types in model order (<c>-</c> when not projected, <c>!</c> for
///     an entity type that cannot be refreshed); names URI-escaped so they never contain a separator.
/// </remarks>
internal sealed class RowLockReadPlan
{
    public const string Prefix = "concurrency:lock-plan:";
    private const string CacheAnnotation = "Concurrency:RowLockReadPlans";

    private RowLockReadPlan(string? table, IReadOnlyList<RowLockReadEntity> entities)
    {
        Table = table;
        Entities = entities;
    }

    /// <summary>The table the query locks rows of; set on databases that lock with the transaction's write lock (SQLite).</summary>
    public string? Table { get; }

    /// <summary>The locked entity types a tracking query materializes, with their reader columns; empty for a no-tracking query.</summary>
    public IReadOnlyList<RowLockReadEntity> Entities { get; }

    /// <summary>The plan of a translated locking query, as tag text; null when there is nothing to carry.</summary>
    public static string? CreateTag(ShapedQueryExpression shaped, QueryCompilationContext context, DatabaseDialect dialect)
    {
        if (shaped.QueryExpression is not SelectExpression select)
        {
            return null;
        }

        var entities = context.QueryTrackingBehavior == QueryTrackingBehavior.TrackAll
            ? LockedEntityFinder.Find(select, shaped.ShaperExpression)
            : [];
        string? table = null;
        if (dialect.TransactionLocksRows)
        {
            table = SplitQueryDependents.FirstTable(select) is TableExpression t
                ? t.Name
                : entities.Select(e => e.EntityType.GetTableName()).FirstOrDefault(n => n is not null);
        }

        if (table is null && entities.Count == 0)
        {
            return null;
        }

        var tag = new StringBuilder(Prefix).Append("t=").Append(Uri.EscapeDataString(table ?? ""));
        foreach (var (entityType, map) in entities)
        {
            tag.Append("|e=").Append(Uri.EscapeDataString(entityType.Name)).Append(':');
            if (map.Keys.Any(p => p is not IProperty))
            {
                tag.Append('!'); // complex or JSON-mapped properties: refused when a tracked row is found, never left stale
                continue;
            }

            var first = true;
            foreach (var property in Properties(entityType))
            {
                tag.Append(first ? "" : ",");
                first = false;
                if (map.TryGetValue(property, out var ordinal))
                {
                    tag.Append(ordinal.ToString(CultureInfo.InvariantCulture)).Append('=').Append(Uri.EscapeDataString(select.Projection[ordinal].Alias));
                }
                else
                {
                    tag.Append('-');
                }
            }
        }

        return tag.ToString();
    }

    /// <summary>The plan in a command's text, read with <paramref name="model" />; null when the command carries none.</summary>
    public static RowLockReadPlan? FindInCommandText(string commandText, IModel model)
        => FindTag(commandText) is { } tag ? Find(tag, model) : null;

    /// <summary>The plan's tag line in a command's text; null when the command carries none.</summary>
    public static string? FindTag(string commandText)
    {
        var start = commandText.IndexOf(Prefix, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var end = commandText.IndexOfAny(['\r', '\n'], start);
        return end < 0 ? commandText[start..] : commandText[start..end];
    }

    /// <summary>The plan of a tag line found by <see cref="FindTag" />, read with <paramref name="model" /> once and cached on it.</summary>
    public static RowLockReadPlan Find(string tag, IModel model)
    {
        var cache = model.GetOrAddRuntimeAnnotationValue(
            CacheAnnotation,
            static _ => new ConcurrentDictionary<string, RowLockReadPlan>(StringComparer.Ordinal),
            (object?)null);
        return cache.GetOrAdd(tag, static (t, m) => Parse(t, m), model);
    }

    private static RowLockReadPlan Parse(string tag, IModel model)
    {
        var parts = tag[Prefix.Length..].Split('|');
        var table = Uri.UnescapeDataString(parts[0]["t=".Length..]);
        var entities = new List<RowLockReadEntity>();
        foreach (var part in parts.Skip(1))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(part["e=".Length..colon]);
            var entityType = model.FindEntityType(name)
                ?? throw new InvalidOperationException($"The row-lock plan of a query names the entity type '{name}', which the model does not have.");
            var columns = part[(colon + 1)..];
            if (columns == "!")
            {
                entities.Add(RowLockReadEntity.Unsupported(
                    entityType,
                    "it has complex or JSON-mapped properties, which the library cannot refresh from the locked row"));
                continue;
            }

            var properties = Properties(entityType).ToList();
            var read = new List<RowLockReadColumn>();
            var entries = columns.Split(',');
            for (var i = 0; i < entries.Length && i < properties.Count; i++)
            {
                if (entries[i] == "-")
                {
                    continue;
                }

                var eq = entries[i].IndexOf('=', StringComparison.Ordinal);
                var ordinal = int.Parse(entries[i][..eq], NumberStyles.None, CultureInfo.InvariantCulture);
                read.Add(new RowLockReadColumn(properties[i], ordinal, Uri.UnescapeDataString(entries[i][(eq + 1)..]), CreateReader(properties[i], ordinal)));
            }

            entities.Add(new RowLockReadEntity(entityType, read));
        }

        return new RowLockReadPlan(table.Length == 0 ? null : table, entities);
    }

    /// <summary>The properties of an entity type and its derived types, in the model's order: the order the tag lists them in.</summary>
    private static IEnumerable<IProperty> Properties(IEntityType entityType)
        => entityType.GetProperties().Concat(entityType.GetDerivedTypes().SelectMany(t => t.GetDeclaredProperties()));

    /// <summary>
    ///     Reads a property's value from a reader column as EF's shaper does: the type mapping's reader method, its
    ///     customization, and its value converter, so the value is the one EF would have materialized.
    /// </summary>
    private static Func<System.Data.Common.DbDataReader, object?> CreateReader(IProperty property, int ordinal)
    {
        var reader = Expression.Parameter(typeof(System.Data.Common.DbDataReader), "reader");
        var mapping = property.GetRelationalTypeMapping();
        var method = mapping.GetDataReaderMethod();
        Expression value = Expression.Call(
            method.DeclaringType == typeof(System.Data.Common.DbDataReader) ? reader : Expression.Convert(reader, method.DeclaringType!),
            method,
            Expression.Constant(ordinal));
        value = mapping.CustomizeDataReaderExpression(value);
        if (mapping.Converter is { } converter)
        {
            if (value.Type != converter.ProviderClrType)
            {
                value = Expression.Convert(value, converter.ProviderClrType);
            }

            var fromProvider = converter.ConvertFromProviderExpression;
            value = ReplacingExpressionVisitor.Replace(fromProvider.Parameters[0], value, fromProvider.Body);
        }

        var body = Expression.Condition(
            Expression.Call(reader, typeof(System.Data.Common.DbDataReader).GetMethod(nameof(System.Data.Common.DbDataReader.IsDBNull))!, Expression.Constant(ordinal)),
            Expression.Constant(null, typeof(object)),
            Expression.Convert(value, typeof(object)));
        return Expression.Lambda<Func<System.Data.Common.DbDataReader, object?>>(body, reader).Compile();
    }

    /// <summary>
    ///     Finds the entities a shaper materializes from the locked table: those whose key columns come from the first table
    ///     of the top-level SELECT (the root table, or the subquery EF pushed it into). Entities of joined tables (an
    ///     included reference, a collection) are not locked, and a split query's collections are separate commands.
    /// </summary>
    private sealed class LockedEntityFinder(SelectExpression select) : ExpressionVisitor
    {
        private readonly List<(IEntityType, IReadOnlyDictionary<IPropertyBase, int>)> _found = [];

        public static IReadOnlyList<(IEntityType EntityType, IReadOnlyDictionary<IPropertyBase, int> Map)> Find(SelectExpression select, Expression shaper)
        {
            var finder = new LockedEntityFinder(select);
            finder.Visit(shaper);
            return finder._found;
        }

        protected override Expression VisitExtension(Expression node)
        {
            switch (node)
            {
                case RelationalSplitCollectionShaperExpression:
                    return node;
                case StructuralTypeShaperExpression
                {
                    StructuralType: IEntityType entityType,
                    ValueBufferExpression: ProjectionBindingExpression binding,
                } when Projection(binding) is { } map
                    && IsLocked(entityType, map)
                    && _found.All(f => f.Item1 != entityType):
                    _found.Add((entityType, map));
                    break;
            }

            return base.VisitExtension(node);
        }

        /// <summary>The property-to-column map of an entity the shaper binds to the top-level SELECT; null for anything else.</summary>
        private IReadOnlyDictionary<IPropertyBase, int>? Projection(ProjectionBindingExpression binding)
        {
            try
            {
                return select.GetProjection(binding) as ConstantExpression is { Value: IReadOnlyDictionary<IPropertyBase, int> map } ? map : null;
            }
            catch (Exception e) when (e is ArgumentOutOfRangeException or KeyNotFoundException)
            {
                return null; // bound to another SELECT (a collection's)
            }
        }

        private bool IsLocked(IEntityType entityType, IReadOnlyDictionary<IPropertyBase, int> map)
        {
            var root = select.Tables.FirstOrDefault()?.Alias;
            return root is not null
                && entityType.FindPrimaryKey() is { } key
                && key.Properties.All(p => map.TryGetValue(p, out var ordinal)
                    && ordinal < select.Projection.Count
                    && select.Projection[ordinal].Expression is ColumnExpression column
                    && column.TableAlias == root);
        }
    }
}

/// <summary>A locked entity type of a <see cref="RowLockReadPlan" />: its reader columns, or why it cannot be refreshed.</summary>
internal sealed class RowLockReadEntity
{
    public RowLockReadEntity(IEntityType entityType, IReadOnlyList<RowLockReadColumn> columns)
    {
        EntityType = entityType;
        Key = entityType.FindPrimaryKey()!;
        Columns = columns;
        KeyColumns = Key.Properties.Select(p => columns.FirstOrDefault(c => c.Property == p)).ToArray();
        if (KeyColumns.Any(c => c is null))
        {
            UnsupportedReason = "its key is not among the query's columns";
        }
    }

    public IEntityType EntityType { get; }

    public IKey Key { get; }

    public IReadOnlyList<RowLockReadColumn> Columns { get; }

    public IReadOnlyList<RowLockReadColumn?> KeyColumns { get; }

    /// <summary>Why a tracked row of this type cannot be refreshed (the locking query refuses it then); null when it can.</summary>
    public string? UnsupportedReason { get; private init; }

    public static RowLockReadEntity Unsupported(IEntityType entityType, string reason)
        => new(entityType, []) { UnsupportedReason = reason };
}

/// <summary>A property of a locked entity, the reader column it is in, and how to read it.</summary>
internal sealed record RowLockReadColumn(IProperty Property, int Ordinal, string Alias, Func<System.Data.Common.DbDataReader, object?> Read);
