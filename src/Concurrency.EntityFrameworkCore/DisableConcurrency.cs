namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     A scope in which version checks are switched off for all entity types or for the given ones: stale saves and
///     deletes of those types succeed (last write wins) while their versions still increment, so editors elsewhere still
///     notice the change. Meant for bulk jobs, imports and admin fixes.
/// </summary>
/// <remarks>
///     <para>
///         The scope belongs to the current async flow (it is stored in an <see cref="AsyncLocal{T}" />): it covers code
///         awaited inside the <c>using</c> block, and never another request, thread or parallel task that did not start
///         inside it. Scopes nest; disposing one restores the one that was current when it was created.
///     </para>
///     <para>
///         Inside a scope, a save of a disabled type first reads the rows' current versions under a row lock, in the same
///         transaction as the save, so the write cannot be overtaken between the read and the UPDATE.
///     </para>
/// </remarks>
/// <example>
///     <code>
/// using (new DisableConcurrency())
/// {
///     foreach (var article in context.Articles) article.Title = article.Title.Trim();
///     context.SaveChanges(); // no RecordModifiedException; versions still go up by one
/// }
/// </code>
/// </example>
public sealed class DisableConcurrency : IDisposable
{
    private static readonly AsyncLocal<DisableConcurrency?> Current = new();

    private readonly DisableConcurrency? _parent;
    private readonly Type[]? _entityTypes;
    private volatile bool _disposed;

    /// <summary>Switches version checks off for every entity type until this scope is disposed.</summary>
    public DisableConcurrency()
    {
        _parent = Current.Value;
        Current.Value = this;
    }

    /// <summary>
    ///     Switches version checks off for the given entity types (and types derived from them) until this scope is
    ///     disposed; all other types stay checked.
    /// </summary>
    /// <param name="entityTypes">The CLR types of the entities to stop checking. At least one.</param>
    /// <exception cref="ArgumentException">No type was given, or one of them is null.</exception>
    public DisableConcurrency(params Type[] entityTypes)
    {
        ArgumentNullException.ThrowIfNull(entityTypes);
        if (entityTypes.Length == 0)
        {
            throw new ArgumentException(
                "Pass at least one entity type, or use new DisableConcurrency() to switch checks off for all types.",
                nameof(entityTypes));
        }

        if (Array.IndexOf(entityTypes, null) >= 0)
        {
            throw new ArgumentException("The entity types must not contain null.", nameof(entityTypes));
        }

        _entityTypes = (Type[])entityTypes.Clone();
        _parent = Current.Value;
        Current.Value = this;
    }

    /// <summary>Whether any scope is active in the current async flow.</summary>
    /// <remarks>
    ///     A scope disposed elsewhere (on another thread, or by the flow that created it while a child task still runs)
    ///     no longer counts, exactly as for <see cref="IsDisabledFor" />.
    /// </remarks>
    public static bool IsActive
    {
        get
        {
            for (var scope = Current.Value; scope is not null; scope = scope._parent)
            {
                if (!scope._disposed)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Whether version checks are switched off for <paramref name="entityType" /> in the current async flow.</summary>
    /// <param name="entityType">An entity CLR type.</param>
    /// <returns><see langword="true" /> when an active scope covers the type.</returns>
    public static bool IsDisabledFor(Type entityType)
    {
        ArgumentNullException.ThrowIfNull(entityType);
        for (var scope = Current.Value; scope is not null; scope = scope._parent)
        {
            if (scope._disposed)
            {
                continue;
            }

            if (scope._entityTypes is null)
            {
                return true;
            }

            foreach (var type in scope._entityTypes)
            {
                if (type.IsAssignableFrom(entityType))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Ends the scope: version checks resume for the types it covered.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (Current.Value == this)
        {
            var parent = _parent;
            while (parent is { _disposed: true })
            {
                parent = parent._parent;
            }

            Current.Value = parent;
        }
    }
}
