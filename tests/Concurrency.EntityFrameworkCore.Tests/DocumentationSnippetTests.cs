using System.Text.RegularExpressions;

namespace Concurrency.EntityFrameworkCore.Tests;

/// <summary>
///     Every fenced <c>csharp</c> block of README.md, docs/*.md and the packages' READMEs is compiled: it must equal
///     (whitespace aside) a <c>#region</c> of docs/Snippets, a project the build compiles with warnings as errors. A
///     block that is deliberately not C# that compiles says so in an HTML comment on the line above its fence:
///     <c>&lt;!-- snippet: not-compiled, the reason --&gt;</c>.
/// </summary>
public sealed partial class DocumentationSnippetTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Test]
    public void Every_csharp_block_of_the_docs_is_a_region_of_the_compiled_snippets()
    {
        var regions = ReadRegions();
        var failures = new List<string>();
        foreach (var block in ReadBlocks())
        {
            if (block.NotCompiledReason is { } reason)
            {
                if (reason.Length == 0)
                {
                    failures.Add($"{block.Location}: a not-compiled block must say why: <!-- snippet: not-compiled, reason -->");
                }

                continue;
            }

            if (!regions.Any(r => r.Normalized == block.Normalized))
            {
                failures.Add(
                    $"{block.Location}: this csharp block matches no #region of docs/Snippets/*.cs (copy it there, "
                    + $"or fix the differing text); it begins \"{block.FirstLine}\"");
            }
        }

        Assert.That(failures, Is.Empty, string.Join(Environment.NewLine, failures));
    }

    [Test]
    public void Every_region_of_the_snippets_is_shown_in_the_docs()
    {
        var shown = ReadBlocks().Select(b => b.Normalized).ToHashSet();
        var unused = ReadRegions().Where(r => !shown.Contains(r.Normalized)).Select(r => r.Location).ToList();

        Assert.That(unused, Is.Empty, "regions that no Markdown block shows (stale snippets): " + string.Join(", ", unused));
    }

    [Test]
    public void Region_names_are_unique()
    {
        var duplicates = ReadRegions().GroupBy(r => r.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();

        Assert.That(duplicates, Is.Empty);
    }

    [Test]
    public void The_checker_finds_the_blocks_and_the_regions()
    {
        Assert.That(ReadBlocks().Count(), Is.GreaterThan(10));
        Assert.That(ReadRegions().Select(r => r.Name), Does.Contain("readme-setup"));
    }

    private static IEnumerable<Snippet> ReadBlocks()
    {
        var files = new[] { Path.Combine(Root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md"))
            .Concat(Directory.GetFiles(Path.Combine(Root, "src"), "README.md", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (!CsharpFence().IsMatch(lines[i]))
                {
                    continue;
                }

                var end = i + 1;
                while (end < lines.Length && !ClosingFence().IsMatch(lines[end]))
                {
                    end++;
                }

                var body = lines[(i + 1)..end];
                var marker = i > 0 ? NotCompiledMarker().Match(lines[i - 1]) : Match.Empty;
                yield return new Snippet(
                    $"{Path.GetRelativePath(Root, file)}:{i + 1}",
                    Name: null,
                    Normalize(body),
                    body.FirstOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "",
                    marker.Success ? marker.Groups["reason"].Value.Trim() : null);
                i = end;
            }
        }
    }

    private static List<Snippet> ReadRegions()
    {
        var regions = new List<Snippet>();
        foreach (var file in Directory.GetFiles(Path.Combine(Root, "docs", "Snippets"), "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                         && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var start = RegionStart().Match(lines[i]);
                if (!start.Success)
                {
                    continue;
                }

                var end = Array.FindIndex(lines, i + 1, l => RegionEnd().IsMatch(l));
                Assert.That(end, Is.GreaterThan(i), $"{file}:{i + 1}: #region without #endregion");
                var body = lines[(i + 1)..end];
                regions.Add(new Snippet(
                    $"{Path.GetRelativePath(Root, file)}:{i + 1} ({start.Groups["name"].Value})",
                    start.Groups["name"].Value,
                    Normalize(body),
                    body.FirstOrDefault()?.Trim() ?? "",
                    NotCompiledReason: null));
                i = end;
            }
        }

        return regions;
    }

    /// <summary>Indentation, alignment and blank lines aside: each line trimmed, runs of spaces made one.</summary>
    private static string Normalize(IEnumerable<string> lines)
        => string.Join('\n', lines.Select(l => Whitespace().Replace(l.Trim(), " ")).Where(l => l.Length > 0));

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Concurrency.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Concurrency.sln above {TestContext.CurrentContext.TestDirectory}.");
    }

    private sealed record Snippet(string Location, string? Name, string Normalized, string FirstLine, string? NotCompiledReason);

    [GeneratedRegex(@"^\s*```csharp\s*$")]
    private static partial Regex CsharpFence();

    [GeneratedRegex(@"^\s*```\s*$")]
    private static partial Regex ClosingFence();

    [GeneratedRegex(@"^\s*<!--\s*snippet:\s*not-compiled\s*,?(?<reason>.*?)-->\s*$")]
    private static partial Regex NotCompiledMarker();

    [GeneratedRegex(@"^\s*#region\s+(?<name>\S+)\s*$")]
    private static partial Regex RegionStart();

    [GeneratedRegex(@"^\s*#endregion\b")]
    private static partial Regex RegionEnd();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
