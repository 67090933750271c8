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
    ///     Whether a <see cref="RecordModifiedException" /> reads the row's current version (one small query, only when a
    ///     conflict happens, on the same connection and transaction) so it can report the actual version and tell a
    ///     modification from a deletion. Turn it off only if that query on the conflict path matters more than the
    ///     diagnostics. Defaults to <see langword="true" />.
    /// </summary>
    /// <param name="read">Whether to read the actual version on conflict.</param>
    /// <returns>This builder, for chaining.</returns>
    public ConcurrencyOptionsBuilder ReadActualVersionOnConflict(bool read = true)
        => WithOption(e => e.WithReadActualVersionOnConflict(read));

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
