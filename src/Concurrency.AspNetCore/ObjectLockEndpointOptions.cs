namespace Concurrency.AspNetCore;

/// <summary>Options of the lock/unlock endpoints mapped by <c>MapObjectLockEndpoints</c>.</summary>
/// <typeparam name="TEntity">The lockable entity type.</typeparam>
public sealed class ObjectLockEndpointOptions<TEntity>
    where TEntity : class
{
    private TimeSpan? _lease;

    /// <summary>
    ///     The lease of locks taken through the endpoint (the entity needs a lease property), or <see langword="null" />
    ///     for locks that last until unlocked. A request may ask for a shorter lease with <c>?leaseSeconds=N</c>.
    ///     Defaults to <see langword="null" />.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to zero or a negative span.</exception>
    public TimeSpan? Lease
    {
        get => _lease;
        set => _lease = value is not { } span || span > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "A lease must be longer than zero, or null for locks that last until unlocked.");
    }

    /// <summary>
    ///     The authorization policy a user must satisfy to break someone else's lock with <c>PUT {id}/unlock?force=true</c>,
    ///     or <see langword="null" /> to refuse forced unlocks over HTTP (403). Defaults to <see langword="null" />.
    /// </summary>
    public string? ForceUnlockPolicy { get; set; }

    /// <summary>
    ///     The authorization policy required for both endpoints, or <see langword="null" /> for none (the returned group
    ///     builder also takes <c>RequireAuthorization</c>). Defaults to <see langword="null" />.
    /// </summary>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    ///     The API's own lock policy (django-object-lock's <c>is_instance_locked</c>): whether the entity counts as locked
    ///     for this API, for example <c>a =&gt; a.IsPublished</c>. Given with <see cref="SetLocked" />, the endpoints use the
    ///     two instead of the entity's own lock columns, and the entity need not be lockable. Defaults to
    ///     <see langword="null" /> (the entity's own lock).
    /// </summary>
    public Func<TEntity, bool>? IsLocked { get; set; }

    /// <summary>
    ///     The API's own way to lock and unlock (django-object-lock's <c>set_locked_status</c>), for example
    ///     <c>(a, locked) =&gt; a.IsPublished = locked</c>; the change is saved with SaveChanges, so version fields are
    ///     bumped and checked. Given with <see cref="IsLocked" />. Defaults to <see langword="null" />.
    /// </summary>
    public Action<TEntity, bool>? SetLocked { get; set; }

    /// <summary>What the endpoints send back on success; defaults to the entity itself.</summary>
    public Func<TEntity, object>? Response { get; set; }
}
