using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     A lock name with route-value placeholders, such as <c>import:{id}</c>, parsed once when the endpoint is mapped and
///     filled from each request's route values. <c>{{</c> and <c>}}</c> stand for literal braces.
/// </summary>
internal sealed class NamedLockTemplate
{
    private readonly (string Text, bool IsValue)[] _parts;

    private NamedLockTemplate(string template, (string Text, bool IsValue)[] parts)
    {
        Template = template;
        _parts = parts;
    }

    /// <summary>The template as written.</summary>
    public string Template { get; }

    /// <summary>The route values the template reads.</summary>
    public IEnumerable<string> RouteValues
        => _parts.Where(p => p.IsValue).Select(p => p.Text);

    /// <summary>Parses <paramref name="template" />, failing with the position of a brace that is not closed or not escaped.</summary>
    public static NamedLockTemplate Parse(string template)
    {
        var parts = new List<(string, bool)>();
        var text = new StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if ((c == '{' || c == '}') && i + 1 < template.Length && template[i + 1] == c)
            {
                text.Append(c);
                i++;
            }
            else if (c == '{')
            {
                var end = template.IndexOf('}', i + 1);
                var value = end < 0 ? string.Empty : template[(i + 1)..end];
                if (end < 0 || value.Length == 0 || value.Contains('{', StringComparison.Ordinal))
                {
                    throw new ArgumentException(
                        $"The lock name template \"{template}\" has a '{{' at position {i} that does not enclose a route value name: write"
                        + " \"import:{id}\" for a route value, or '{{' for a literal brace.",
                        nameof(template));
                }

                if (text.Length > 0)
                {
                    parts.Add((text.ToString(), false));
                    text.Clear();
                }

                parts.Add((value, true));
                i = end;
            }
            else if (c == '}')
            {
                throw new ArgumentException(
                    $"The lock name template \"{template}\" has a '}}' at position {i} without its '{{': write '}}}}' for a literal brace.",
                    nameof(template));
            }
            else
            {
                text.Append(c);
            }
        }

        if (text.Length > 0)
        {
            parts.Add((text.ToString(), false));
        }

        return new NamedLockTemplate(template, [.. parts]);
    }

    /// <summary>Fails at startup when the endpoint's route has no parameter a placeholder names.</summary>
    public void Validate(RoutePattern pattern, string? displayName)
    {
        foreach (var value in RouteValues)
        {
            if (pattern.GetParameter(value) is null)
            {
                throw new InvalidOperationException(
                    $"RequireNamedLock(\"{Template}\") on '{displayName ?? pattern.RawText}': the route has no parameter '{value}'."
                    + $" Use one of the route's parameters ({string.Join(", ", pattern.Parameters.Select(p => "{" + p.Name + "}"))})"
                    + " or a fixed name.");
            }
        }
    }

    /// <summary>The lock name for one request; a route value the request lacks (an optional parameter) counts as empty.</summary>
    public string Format(HttpContext http)
    {
        if (_parts.Length == 1 && !_parts[0].IsValue)
        {
            return _parts[0].Text;
        }

        var name = new StringBuilder();
        foreach (var (text, isValue) in _parts)
        {
            name.Append(isValue ? Convert.ToString(http.GetRouteValue(text), System.Globalization.CultureInfo.InvariantCulture) : text);
        }

        return name.ToString();
    }
}
