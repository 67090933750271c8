namespace Concurrency.EntityFrameworkCore;

/// <summary>
///     How a version field gets its next value. Every kind is checked the same way: an UPDATE or DELETE only
///     succeeds when the row still holds the version the application loaded (or announced with
///     <c>ExpectVersion</c>).
/// </summary>
public enum VersionFieldKind
{
    /// <summary>
    ///     The application increments the version by one in the same UPDATE statement that saves the change
    ///     (<see cref="VersionFieldAttribute" />). Raw SQL that bypasses EF Core does not bump it.
    /// </summary>
    Integer = 1,

    /// <summary>
    ///     A database trigger increments the version on every UPDATE from any client, raw SQL included
    ///     (<see cref="TriggerVersionFieldAttribute" />). EF Core reads the new value back after each save.
    /// </summary>
    Trigger = 2,

    /// <summary>
    ///     The application increments the version only when a watched property changes
    ///     (<see cref="ConditionalVersionFieldAttribute" />); the version is still checked on every update.
    /// </summary>
    Conditional = 3,
}
