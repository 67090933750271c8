using Concurrency.EntityFrameworkCore.Infrastructure.Internal;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace Concurrency.EntityFrameworkCore.Infrastructure;

/// <summary>
///     Options for <c>UseConcurrency(...)</c>. Every option is stored in the context's options, never in static state,
///     so two contexts in one process can be configured differently.
/// </summary>
public sealed class ConcurrencyOptionsBuilder
{
    private readonly DbContextOptionsBuilder _optionsBuilder;

    internal ConcurrencyOptionsBuilder(DbContextOptionsBuilder optionsBuilder)
        => _optionsBuilder = optionsBuilder;

    /// <summary>
    ///     Whether a <see cref="RecordModifiedException" /> reads the row's current values from the database (one query,
    ///     only when a conflict happens) so it can report the actual version, tell a modification from a deletion and
    ///     offer the database values for merging. Turn it off only if that one query on the conflict path matters more
    ///     than the diagnostics. Defaults to <see langword="true" />.
    /// </summary>
    /// <param name="fetch">Whether to fetch the database values on conflict.</param>
    /// <returns>This builder, for chaining.</returns>
    public ConcurrencyOptionsBuilder FetchDatabaseValuesOnConflict(bool fetch = true)
        => WithOption(e => e.WithFetchDatabaseValuesOnConflict(fetch));

    /// <summary>
    ///     Whether <c>ExecuteUpdate</c>/<c>ExecuteUpdateAsync</c> on a versioned entity also increments its version in the
    ///     same statement, so editors holding an older version see the bulk change as a conflict. Defaults to
    ///     <see langword="true" />.
    /// </summary>
    /// <param name="bump">Whether bulk updates bump versions.</param>
    /// <returns>This builder, for chaining.</returns>
    public ConcurrencyOptionsBuilder BumpVersionsInExecuteUpdate(bool bump = true)
        => WithOption(e => e.WithBumpVersionsInExecuteUpdate(bump));

    private ConcurrencyOptionsBuilder WithOption(Func<ConcurrencyOptionsExtension, ConcurrencyOptionsExtension> with)
    {
        var extension = with(_optionsBuilder.Options.FindExtension<ConcurrencyOptionsExtension>() ?? new ConcurrencyOptionsExtension());
        ((IDbContextOptionsBuilderInfrastructure)_optionsBuilder).AddOrUpdateExtension(extension);
        return this;
    }
}
