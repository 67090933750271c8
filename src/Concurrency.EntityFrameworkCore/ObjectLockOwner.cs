namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     Who the current code acts for, as the owner of object locks: <c>LockAsync</c> records it as the lock's owner, and
///     SaveChanges lets the owner keep editing a locked entity. ASP.NET Core integration sets it from the signed-in user.
/// </summary>
/// <remarks>
///     Stored in an <see cref="AsyncLocal{T}" />: it covers the code that runs inside the <see cref="Use" /> scope,
///     including awaited calls, and never leaks into other requests or threads.
/// </remarks>
/// <example>
///     <code>
///     using (ObjectLockOwner.Use(user.Identity!.Name))
///     {
///         await context.LockAsync(article, lease: TimeSpan.FromMinutes(15));
///     }
///     </code>
/// </example>
public static class ObjectLockOwner
{
    private static readonly AsyncLocal<string?> CurrentOwner = new();

    /// <summary>The owner in effect, or <see langword="null" /> when none was set.</summary>
    public static string? Current
        => CurrentOwner.Value;

    /// <summary>Sets the owner until the returned scope is disposed, then restores the previous one.</summary>
    /// <param name="owner">The owner's name (a user name, a service name); <see langword="null" /> for none.</param>
    /// <returns>The scope; dispose it to restore the previous owner.</returns>
    public static IDisposable Use(string? owner)
    {
        var scope = new Scope(CurrentOwner.Value);
        CurrentOwner.Value = owner;
        return scope;
    }

    private sealed class Scope(string? previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                CurrentOwner.Value = previous;
            }
        }
    }
}
