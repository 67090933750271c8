using System.Globalization;

namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A named lock could not be had within the wait the caller allowed, because another holder kept it: thrown by
///     <c>AcquireLockAsync</c>, <c>AcquireTransactionLockAsync</c> and <c>WithLockAsync</c> (<c>TryAcquireLockAsync</c>
///     returns null instead). The message names the lock and the wait.
/// </summary>
public sealed class LockTimeoutException : TimeoutException
{
    /// <summary>Creates the exception with a message naming the lock and the wait.</summary>
    /// <param name="name">The name of the lock that was not acquired.</param>
    /// <param name="timeout">How long the caller waited.</param>
    /// <param name="innerException">The database's error that ended the wait, if any.</param>
    public LockTimeoutException(string name, TimeSpan timeout, Exception? innerException)
        : base(
            string.Format(
                CultureInfo.InvariantCulture,
                "The named lock '{0}' could not be acquired within {1}: another holder kept it. Wait longer (timeout: ...), pass"
                + " timeout: null to wait until it is free, or use TryAcquireLockAsync to go on without it.",
                name,
                timeout),
            innerException)
    {
        LockName = name;
        Timeout = timeout;
    }

    /// <summary>The name of the lock that was not acquired.</summary>
    public string LockName { get; }

    /// <summary>How long the caller waited for the lock.</summary>
    public TimeSpan Timeout { get; }
}
