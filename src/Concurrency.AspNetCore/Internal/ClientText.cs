using System.Globalization;
using System.Text;
using Concurrency.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Concurrency.AspNetCore.Internal;

/// <summary>Pieces of the texts written for HTTP clients and end users, as opposed to the developer texts of exception messages.</summary>
internal static class ClientText
{
    /// <summary>An entity type as a reader would name it: <c>BlogPost</c> becomes <c>blog post</c>, <c>HTMLPage</c> <c>HTML page</c>.</summary>
    public static string Name(Type entityType)
    {
        var name = entityType.Name;
        var words = new List<string>();
        var start = 0;
        for (var i = 1; i <= name.Length; i++)
        {
            var boundary = i == name.Length
                || (char.IsUpper(name[i]) && (!char.IsUpper(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]))));
            if (boundary)
            {
                words.Add(name[start..i]);
                start = i;
            }
        }

        var text = new StringBuilder();
        foreach (var word in words)
        {
            text.Append(text.Length == 0 ? string.Empty : " ")
                .Append(word.Length > 1 && word.All(char.IsUpper) ? word : word.ToLowerInvariant());
        }

        return text.ToString();
    }

    /// <summary>The default of <see cref="ConcurrencyHttpOptions.ConflictMessage" />.</summary>
    public static string Conflict(DbUpdateConcurrencyException exception)
    {
        const string NothingSaved = "Nothing of your change was saved.";
        return exception switch
        {
            RecordModifiedException { Conflicts.Count: > 1 } modified => $"{modified.Conflicts.Count.ToString(CultureInfo.InvariantCulture)} of the "
                + $"records you changed were changed or deleted by someone else after you loaded them. {NothingSaved} "
                + "Reload them to see the current versions, then apply your change again.",
            RecordModifiedException { WasDeleted: true } deleted => $"This {Name(deleted.EntityType)} was deleted by someone else after you loaded it. {NothingSaved}",
            RecordModifiedException modified => $"This {Name(modified.EntityType)} was changed by someone else after you loaded it. {NothingSaved} "
                + "Reload it to see the current version, then apply your change again.",
            _ => $"This record was changed or deleted by someone else after you loaded it. {NothingSaved} "
                + "Reload it to see the current version, then apply your change again.",
        };
    }

    /// <summary>The default of <see cref="ConcurrencyHttpOptions.LockMessage" />.</summary>
    public static string Lock(ObjectLockException exception)
    {
        var name = Name(exception.EntityType);
        var by = exception.LockedBy is { } owner ? $" by {owner}" : string.Empty;
        var until = exception.LockExpiresAt is { } expires ? string.Create(CultureInfo.InvariantCulture, $" until {expires:u}") : string.Empty;
        return exception switch
        {
            ObjectLockedException => $"This {name} is locked{by}{until}, so it cannot be changed now. Nothing of your change was saved. "
                + (exception.LockExpiresAt is null ? "Try again after it is unlocked." : "Try again after it is unlocked or the lock runs out."),
            ObjectAlreadyLockedException => $"This {name} is already locked{by}{until}.",
            _ => $"This {name} is not locked.",
        };
    }

    /// <summary>The default of <see cref="ConcurrencyHttpOptions.NamedLockBusyMessage" />.</summary>
    public static string NamedLockBusy(string lockName)
        => $"This is already being done ({lockName}) by another request. Nothing was done for yours. Try again when it has finished.";
}
