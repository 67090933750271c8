using System.Reflection;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.EntityFrameworkCore.Query.Internal;

/// <summary>The public locking operators, recognized in a compiled query's expression (<see cref="RowLockQueryTranslationPreprocessor" />).</summary>
internal static class RowLockOperators
{
    /// <summary>The strength a call of <paramref name="method" /> asks for; null when it is not a locking operator.</summary>
    public static RowLockStrength? Strength(MethodInfo method)
        => method.DeclaringType != typeof(ConcurrencyRowLockExtensions)
            ? null
            : method.Name switch
            {
                nameof(ConcurrencyRowLockExtensions.ForUpdate) => RowLockStrength.Update,
                nameof(ConcurrencyRowLockExtensions.ForNoKeyUpdate) => RowLockStrength.NoKeyUpdate,
                nameof(ConcurrencyRowLockExtensions.ForShare) => RowLockStrength.Share,
                nameof(ConcurrencyRowLockExtensions.ForKeyShare) => RowLockStrength.KeyShare,
                _ => null,
            };
}
