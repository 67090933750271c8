using System.Text;

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
}
