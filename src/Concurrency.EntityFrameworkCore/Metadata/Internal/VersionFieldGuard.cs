using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Concurrency.EntityFrameworkCore.Metadata.Internal;

/// <summary>
///     Catches a model that declares version fields (or object locks) on a context without <c>UseConcurrency()</c>:
///     without the interceptor versions would never be bumped and stale writes would pass unnoticed (locks would never
///     be enforced). <c>UseVersioning()</c> and the fluent calls
///     put a value comparer on the version property whose snapshot step (run by EF whenever it starts tracking an
///     entity, so before anything can be saved) checks that the model was finalized by this library's conventions,
///     which arm the guard.
/// </summary>
internal sealed class VersionFieldGuard(string entityName, string propertyName, bool objectLock)
{
    private volatile bool _armed;

    public void Arm()
        => _armed = true;

    public T Check<T>(T value)
        => _armed
            ? value
            : throw new InvalidOperationException(
                $"'{entityName}.{propertyName}' is {(objectLock ? "an object lock" : "a version field")}, but this DbContext was not"
                + " configured with UseConcurrency(), so "
                + (objectLock
                    ? "locked entities could be updated and deleted freely. Add"
                    : "versions would never be checked or incremented and stale writes would be lost silently. Add")
                + " optionsBuilder.UseConcurrency() after the database provider call (for example"
                + " options.UseNpgsql(connectionString).UseConcurrency()).");

    /// <summary>Puts a guard comparer on <paramref name="property" /> unless it already has one.</summary>
    public static void Install(IMutableProperty property)
    {
        if (property.GetValueComparer() is IGuardedComparer
            || !VersionFieldConfiguration.IsSupportedClrType(property.ClrType))
        {
            return;
        }

        var guard = new VersionFieldGuard(property.DeclaringType.DisplayName(), property.Name, objectLock: false);
        property.SetValueComparer(
            property.ClrType == typeof(int)
                ? new GuardedComparer<int>(guard)
                : new GuardedComparer<long>(guard));
    }

    /// <summary>Puts a guard comparer on an object-lock (bool) property unless it already has one.</summary>
    public static void InstallOnLock(IMutableProperty property)
    {
        if (property.GetValueComparer() is IGuardedComparer || property.ClrType != typeof(bool))
        {
            return;
        }

        property.SetValueComparer(new GuardedComparer<bool>(new VersionFieldGuard(property.DeclaringType.DisplayName(), property.Name, objectLock: true)));
    }

    /// <summary>Arms the guard of <paramref name="property" />, if it has one.</summary>
    public static void Arm(IReadOnlyProperty property)
    {
        if (property.GetValueComparer() is IGuardedComparer guarded)
        {
            guarded.Guard.Arm();
        }
    }

    private interface IGuardedComparer
    {
        VersionFieldGuard Guard { get; }
    }

    private sealed class GuardedComparer<T>(VersionFieldGuard guard)
        : ValueComparer<T>((a, b) => EqualityComparer<T>.Default.Equals(a, b), v => v!.GetHashCode(), Snapshot(guard)),
            IGuardedComparer
        where T : struct
    {
        public VersionFieldGuard Guard { get; } = guard;

        private static Expression<Func<T, T>> Snapshot(VersionFieldGuard guard)
        {
            var value = Expression.Parameter(typeof(T), "v");
            return Expression.Lambda<Func<T, T>>(
                Expression.Call(Expression.Constant(guard), nameof(Check), [typeof(T)], value),
                value);
        }
    }
}
