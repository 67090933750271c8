using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;

namespace Concurrency.AspNetCore.Internal;

/// <summary>
///     Parses a key from its route value the way minimal APIs bind one (a static <c>TryParse</c> with the invariant
///     culture), but in the endpoint, so that a value that does not parse is answered with a 400 naming the parameter
///     instead of the empty 400 of the binder.
/// </summary>
internal static class RouteKeyParser
{
    private delegate bool TryParseKey<TKey>(string text, [MaybeNullWhen(false)] out TKey key);

    /// <summary>Whether keys of this type can be parsed; checked when the endpoints are mapped.</summary>
    public static bool CanParse<TKey>()
        where TKey : notnull
        => Cache<TKey>.Parse is not null;

    public static bool TryParse<TKey>(string text, [MaybeNullWhen(false)] out TKey key)
        where TKey : notnull
    {
        key = default;
        return Cache<TKey>.Parse is { } parse && parse(text, out key);
    }

    private static bool ParseString(string text, out string key)
    {
        key = text;
        return text.Length > 0;
    }

    private static bool ParseParsable<T>(string text, [MaybeNullWhen(false)] out T key)
        where T : IParsable<T>
        => T.TryParse(text, CultureInfo.InvariantCulture, out key);

    private static bool ParseEnum<T>(string text, out T key)
        where T : struct, Enum
        => Enum.TryParse(text, out key);

    private static class Cache<TKey>
        where TKey : notnull
    {
        public static readonly TryParseKey<TKey>? Parse = Create();

        private static TryParseKey<TKey>? Create()
        {
            var method = typeof(TKey) == typeof(string) ? nameof(ParseString)
                : typeof(TKey).IsEnum ? nameof(ParseEnum)
                : typeof(IParsable<>).MakeGenericType(typeof(TKey)).IsAssignableFrom(typeof(TKey)) ? nameof(ParseParsable)
                : null;
            if (method is null)
            {
                return null;
            }

            var parse = typeof(RouteKeyParser).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!;
            return parse.IsGenericMethodDefinition
                ? parse.MakeGenericMethod(typeof(TKey)).CreateDelegate<TryParseKey<TKey>>()
                : parse.CreateDelegate<TryParseKey<TKey>>();
        }
    }
}
