using Concurrency.EntityFrameworkCore;

// ReSharper disable once CheckNamespace
namespace Microsoft.EntityFrameworkCore;

/// <summary>
///     Re-runs a whole unit of work (load, modify, save) when its save loses a race, instead of the hand-written
///     "catch DbUpdateConcurrencyException, reload, try again" loop.
/// </summary>
public static class ConcurrencyRetryExtensions
{
    /// <summary>The number of attempts when none is given: the first try and two retries.</summary>
    public const int DefaultMaxAttempts = 3;

    private static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>
    ///     Runs <paramref name="unitOfWork" />, and when it throws a concurrency conflict (<see cref="RecordModifiedException" />
    ///     or any other <see cref="DbUpdateConcurrencyException" />), a deadlock or serialization failure (SQLSTATE 40P01
    ///     or 40001, as the exception or inside it, <see cref="DeadlockDetectedException" /> included) or a row lock that could
    ///     not be had (<see cref="RowLockNotAvailableException" />), clears the change tracker, waits a short random
    ///     back-off and runs it again, up to <paramref name="maxAttempts" /> times in all.
    /// </summary>
    /// <remarks>
    ///     The unit of work must load what it changes itself, so that every attempt starts from the database's current
    ///     state: everything tracked by <paramref name="context" /> is discarded before a retry. Other exceptions
    ///     (including object-lock errors) are not retried. Inside a transaction the application began,
    ///     each attempt runs in that transaction (EF rolls a failed save back to its savepoint); under
    ///     <c>REPEATABLE READ</c> or <c>SERIALIZABLE</c> isolation the retries see the same snapshot and cannot succeed,
    ///     so begin the transaction inside the unit of work instead.
    /// </remarks>
    /// <param name="context">The context the unit of work uses.</param>
    /// <param name="unitOfWork">Loads, modifies and saves; receives <paramref name="cancellationToken" />.</param>
    /// <param name="maxAttempts">How many times to run the unit of work at most, the first run included. Defaults to 3.</param>
    /// <param name="cancellationToken">Cancels the unit of work and the waits between attempts.</param>
    /// <returns>A task that completes when an attempt succeeded.</returns>
    /// <exception cref="DbUpdateConcurrencyException">The last attempt's conflict, when every attempt conflicted.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxAttempts" /> is less than 1.</exception>
    public static Task RetryOnConflictAsync(
        this DbContext context,
        Func<CancellationToken, Task> unitOfWork,
        int maxAttempts = DefaultMaxAttempts,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(unitOfWork);
        return context.RetryOnConflictAsync<bool>(
            async ct =>
            {
                await unitOfWork(ct).ConfigureAwait(false);
                return true;
            },
            maxAttempts,
            cancellationToken);
    }

    /// <inheritdoc cref="RetryOnConflictAsync(DbContext, Func{CancellationToken, Task}, int, CancellationToken)" />
    /// <typeparam name="TResult">What the unit of work returns.</typeparam>
    /// <returns>What the successful attempt returned.</returns>
    public static async Task<TResult> RetryOnConflictAsync<TResult>(
        this DbContext context,
        Func<CancellationToken, Task<TResult>> unitOfWork,
        int maxAttempts = DefaultMaxAttempts,
        CancellationToken cancellationToken = default)
    {
        Validate(context, unitOfWork, maxAttempts);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return await unitOfWork(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (attempt < maxAttempts && IsRetryable(exception))
            {
                context.ChangeTracker.Clear();
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    ///     Runs <paramref name="unitOfWork" />, and when it throws a concurrency conflict (<see cref="RecordModifiedException" />
    ///     or any other <see cref="DbUpdateConcurrencyException" />), a deadlock or serialization failure (SQLSTATE 40P01
    ///     or 40001, as the exception or inside it, <see cref="DeadlockDetectedException" /> included) or a row lock that could
    ///     not be had (<see cref="RowLockNotAvailableException" />), clears the change tracker, waits a short random
    ///     back-off and runs it again, up to <paramref name="maxAttempts" /> times in all.
    /// </summary>
    /// <remarks>
    ///     The synchronous twin of <see cref="RetryOnConflictAsync(DbContext, Func{CancellationToken, Task}, int, CancellationToken)" />;
    ///     the same rules apply.
    /// </remarks>
    /// <param name="context">The context the unit of work uses.</param>
    /// <param name="unitOfWork">Loads, modifies and saves.</param>
    /// <param name="maxAttempts">How many times to run the unit of work at most, the first run included. Defaults to 3.</param>
    /// <exception cref="DbUpdateConcurrencyException">The last attempt's conflict, when every attempt conflicted.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxAttempts" /> is less than 1.</exception>
    public static void RetryOnConflict(this DbContext context, Action unitOfWork, int maxAttempts = DefaultMaxAttempts)
    {
        ArgumentNullException.ThrowIfNull(unitOfWork);
        context.RetryOnConflict(
            () =>
            {
                unitOfWork();
                return true;
            },
            maxAttempts);
    }

    /// <inheritdoc cref="RetryOnConflict(DbContext, Action, int)" />
    /// <typeparam name="TResult">What the unit of work returns.</typeparam>
    /// <returns>What the successful attempt returned.</returns>
    public static TResult RetryOnConflict<TResult>(this DbContext context, Func<TResult> unitOfWork, int maxAttempts = DefaultMaxAttempts)
    {
        Validate(context, unitOfWork, maxAttempts);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return unitOfWork();
            }
            catch (Exception exception) when (attempt < maxAttempts && IsRetryable(exception))
            {
                context.ChangeTracker.Clear();
                Thread.Sleep(Backoff(attempt));
            }
        }
    }

    /// <summary>
    ///     What a re-run can cure: a concurrency conflict (<see cref="DbUpdateConcurrencyException" />, including
    ///     <see cref="RecordModifiedException" />), or a database error that aborted the transaction because of another one,
    ///     anywhere in the exception's inner chain: a deadlock (SQLSTATE 40P01, or <see cref="DeadlockDetectedException" />),
    ///     a serialization failure (40001), or a row lock that could not be had (<see cref="RowLockNotAvailableException" />,
    ///     or SQLSTATE 55P03 when PostgreSQL reports it while the rows are being read).
    /// </summary>
    internal static bool IsRetryable(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is DbUpdateConcurrencyException or RowLockException
                || (e is System.Data.Common.DbException { SqlState: "40P01" or "40001" or "55P03" }))
            {
                return true;
            }
        }

        return false;
    }

    private static void Validate(DbContext context, object unitOfWork, int maxAttempts)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(unitOfWork);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
    }

    /// <summary>
    ///     "Full jitter": a random wait between zero and an exponentially growing cap, so writers that collided once do not
    ///     collide again in lock-step.
    /// </summary>
    private static TimeSpan Backoff(int failedAttempts)
    {
        var cap = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, failedAttempts - 1));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * cap);
    }
}
