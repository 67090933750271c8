using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Concurrency.Benchmarks;

/// <summary>
///     One measured operation: <see cref="PrepareAsync" /> does everything that is not timed (load, modify), then
///     <see cref="RunAsync" /> is exactly the thing the benchmark names. Used by BenchmarkDotNet and by the interleaved
///     ratio runner alike, so both report on the same code.
/// </summary>
public abstract class Scenario(string name)
{
    public string Name { get; } = name;

    /// <summary>The variant of the same group that this one's goal is stated against, if any (e.g. EF's own token).</summary>
    public string? Reference
    {
        get => References.Count > 0 ? References[0] : null;
        init => References = value is null ? [] : [value];
    }

    /// <summary>Every variant of the same group this one is also compared with per round (the first is <see cref="Reference" />).</summary>
    public IReadOnlyList<string> References { get; init; } = [];

    /// <summary>
    ///     Set by a scenario that times only part of <see cref="RunAsync" /> itself (per unit it reports); the runner then
    ///     reports this instead of its own stopwatch, and <see cref="TimedAllocatedBytes" /> instead of its own count.
    /// </summary>
    public double? TimedMilliseconds { get; protected set; }

    /// <inheritdoc cref="TimedMilliseconds" />
    public long? TimedAllocatedBytes { get; protected set; }

    public abstract Task PrepareAsync(BenchDatabase database, int rows, int round);

    public abstract Task RunAsync();

    public virtual Task CleanupAsync()
        => Task.CompletedTask;
}

/// <summary>SaveChanges of N already-tracked modified rows.</summary>
public sealed class SaveScenario<TRow>(string name, bool library, Action<TRow, int> modify) : Scenario(name)
    where TRow : Row
{
    private BenchContext? _context;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _context = new BenchContext(library ? database.WithConcurrency : database.PlainEf);
        var loaded = await _context.Set<TRow>().Where(r => r.Id <= rows).ToListAsync();
        foreach (var row in loaded)
        {
            modify(row, round);
        }
    }

    public override async Task RunAsync()
        => await _context!.SaveChangesAsync();

    public override async Task CleanupAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }
}

/// <summary>The physical limit: the same UPDATE statements sent by raw Npgsql in one NpgsqlBatch, rows affected checked.</summary>
/// <summary>How the raw statements check the row: not at all, by a version the client bumps, or by one a trigger bumps.</summary>
public enum RawCheck
{
    None,
    Version,
    Trigger,
}

/// <summary>The physical limit: the same UPDATE statements as EF sends, in one NpgsqlBatch, with the rows-affected check.</summary>
public sealed class RawBatchScenario(string name, string table, RawCheck check) : Scenario(name)
{
    private NpgsqlConnection? _connection;
    private NpgsqlBatch? _batch;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _connection = new NpgsqlConnection(database.ConnectionString);
        await _connection.OpenAsync();
        var versions = new Dictionary<int, long>();
        await using (var read = new NpgsqlCommand($"SELECT \"Id\", \"Version\" FROM {table} WHERE \"Id\" <= {rows}", _connection))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                versions[reader.GetInt32(0)] = reader.GetInt64(1);
            }
        }

        _batch = new NpgsqlBatch(_connection);
        foreach (var (id, version) in versions)
        {
            var command = check switch
            {
                RawCheck.Version => new NpgsqlBatchCommand($"UPDATE {table} SET \"A\" = $1, \"Version\" = $2 WHERE \"Id\" = $3 AND \"Version\" = $4")
                {
                    Parameters = { new() { Value = $"raw{round}-{id}" }, new() { Value = version + 1 }, new() { Value = id }, new() { Value = version } },
                },

                // As EF sends it for a database-generated version: check the old one, read back the new one.
                RawCheck.Trigger => new NpgsqlBatchCommand($"UPDATE {table} SET \"A\" = $1 WHERE \"Id\" = $2 AND \"Version\" = $3 RETURNING \"Version\"")
                {
                    Parameters = { new() { Value = $"raw{round}-{id}" }, new() { Value = id }, new() { Value = version } },
                },
                _ => new NpgsqlBatchCommand($"UPDATE {table} SET \"A\" = $1 WHERE \"Id\" = $2")
                {
                    Parameters = { new() { Value = $"raw{round}-{id}" }, new() { Value = id } },
                },
            };
            _batch.BatchCommands.Add(command);
        }
    }

    public override async Task RunAsync()
    {
        if (check == RawCheck.Trigger)
        {
            await using var reader = await _batch!.ExecuteReaderAsync();
            do
            {
                while (await reader.ReadAsync())
                {
                }
            }
            while (await reader.NextResultAsync());
        }
        else
        {
            await _batch!.ExecuteNonQueryAsync();
        }

        foreach (var command in _batch!.BatchCommands)
        {
            if (command.RecordsAffected != 1)
            {
                throw new InvalidOperationException("A raw versioned UPDATE affected no row.");
            }
        }
    }

    public override async Task CleanupAsync()
    {
        if (_batch is not null)
        {
            await _batch.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}

/// <summary>Deletes of N tracked rows (re-inserted, untimed, before each run).</summary>
public sealed class DeleteScenario<TRow>(string name, string table, bool versioned) : Scenario(name)
    where TRow : Row
{
    private const int FirstId = 1_000_000;
    private BenchContext? _context;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        database.Execute(
            $"INSERT INTO {table} (\"Id\", \"A\", \"B\", \"C\", \"D\"{(versioned ? ", \"Version\"" : "")}) "
            + $"SELECT i, 'a', 'b', i, TIMESTAMPTZ '2026-01-01'{(versioned ? ", 1" : "")} FROM generate_series({FirstId}, {FirstId + rows - 1}) i");
        _context = new BenchContext(versioned ? database.WithConcurrency : database.PlainEf);
        _context.RemoveRange(await _context.Set<TRow>().Where(r => r.Id >= FirstId).ToListAsync());
    }

    public override async Task RunAsync()
        => await _context!.SaveChangesAsync();

    public override async Task CleanupAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }
}

/// <summary>One SaveChanges that ends in a concurrency exception: EF's own, or RecordModifiedException (which reads the actual version).</summary>
public sealed class ConflictScenario<TRow>(string name, string table, bool library, Action<TRow> modify) : Scenario(name)
    where TRow : Row
{
    private BenchContext? _context;

    public override async Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _context = new BenchContext(library ? database.WithConcurrency : database.PlainEf);
        var row = await _context.Set<TRow>().SingleAsync(r => r.Id == 1);
        database.Execute($"UPDATE {table} SET \"Version\" = \"Version\" + 1 WHERE \"Id\" = 1");
        modify(row);
    }

    public override async Task RunAsync()
    {
        try
        {
            await _context!.SaveChangesAsync();
        }
        catch (RecordModifiedException) when (library)
        {
            return;
        }
        catch (DbUpdateConcurrencyException) when (!library)
        {
            return;
        }

        throw new InvalidOperationException("The conflict scenario did not conflict.");
    }

    public override async Task CleanupAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }
}

/// <summary>ExecuteUpdate over N rows.</summary>
public sealed class ExecuteUpdateScenario<TRow>(string name, Func<BenchDatabase, Microsoft.EntityFrameworkCore.DbContextOptions<BenchContext>> options) : Scenario(name)
    where TRow : Row
{
    private BenchContext? _context;
    private int _rows;

    public override Task PrepareAsync(BenchDatabase database, int rows, int round)
    {
        _context = new BenchContext(options(database));
        _rows = rows;
        return Task.CompletedTask;
    }

    public override async Task RunAsync()
        => await _context!.Set<TRow>().Where(r => r.Id <= _rows).ExecuteUpdateAsync(s => s.SetProperty(r => r.C, r => r.C + 1));

    public override async Task CleanupAsync()
    {
        if (_context is not null)
        {
            await _context.DisposeAsync();
        }
    }
}

/// <summary>The variants of each group; the first of a group is its baseline.</summary>
public static class Scenarios
{
    private const string TokenVariant = "EF token, bumped by hand";

    private static string Stamp(int round, int id)
        => $"r{round}-{id}";

    public static Scenario[] Save()
        =>
        [
            new SaveScenario<PlainRow>("EF Core, no token (baseline)", library: false, (r, round) => r.A = Stamp(round, r.Id)),
            new SaveScenario<TokenRow>(TokenVariant, library: false, (r, round) =>
            {
                r.A = Stamp(round, r.Id);
                r.Version++;
            }),
            new SaveScenario<XminRow>("Npgsql xmin", library: false, (r, round) => r.A = Stamp(round, r.Id)),
            new SaveScenario<VersionRow>("[VersionField]", library: true, (r, round) => r.A = Stamp(round, r.Id)) { Reference = TokenVariant },
            new SaveScenario<ConditionalRow>("[ConditionalVersionField], watched changed", library: true, (r, round) => r.A = Stamp(round, r.Id)) { Reference = TokenVariant },
            new SaveScenario<ConditionalRowB>("[ConditionalVersionField], unwatched changed", library: true, (r, round) => r.B = Stamp(round, r.Id)) { Reference = TokenVariant },
            new SaveScenario<TriggerRow>("[TriggerVersionField]", library: true, (r, round) => r.A = Stamp(round, r.Id)) { Reference = "Npgsql xmin" },
            new RawBatchScenario("raw NpgsqlBatch, versioned UPDATE", "raw_versioned_rows", RawCheck.Version),
            new RawBatchScenario("raw NpgsqlBatch, plain UPDATE", "raw_plain_rows", RawCheck.None),
            new RawBatchScenario("raw NpgsqlBatch, UPDATE of a trigger-versioned row", "raw_trigger_rows", RawCheck.Trigger) { Reference = "raw NpgsqlBatch, versioned UPDATE" },
        ];

    public static Scenario[] Delete()
        =>
        [
            new DeleteScenario<DeletePlainRow>("delete, no token (baseline)", "delete_plain_rows", versioned: false),
            new DeleteScenario<DeleteVersionRow>("delete, [VersionField]", "delete_version_rows", versioned: true),
        ];

    public static Scenario[] Conflict()
        =>
        [
            new ConflictScenario<TokenRow>("EF DbUpdateConcurrencyException (baseline)", "token_rows", library: false, r =>
            {
                r.A = "x";
                r.Version++;
            }),
            new ConflictScenario<VersionRow>("RecordModifiedException (+ actual version)", "version_rows", library: true, r => r.A = "x"),
        ];

    public static Scenario[] ExecuteUpdate()
        =>
        [
            new ExecuteUpdateScenario<BulkPlainRow>("ExecuteUpdate, no version (baseline)", d => d.PlainEf),
            new ExecuteUpdateScenario<BulkVersionRow>("ExecuteUpdate, [VersionField] bumped", d => d.WithConcurrency),
            new ExecuteUpdateScenario<BulkVersionRowB>("ExecuteUpdate, [VersionField] not bumped", d => d.WithConcurrencyNoBump),
        ];
}
