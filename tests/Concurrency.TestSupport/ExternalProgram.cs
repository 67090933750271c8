namespace Concurrency.TestSupport;

/// <summary>Programs outside .NET that a few tests drive (a browser): installed on this machine, or not.</summary>
public static class ExternalProgram
{
    /// <summary>
    ///     Returns when every file in <paramref name="paths" /> exists. Otherwise the test reports itself as not run, with
    ///     <paramref name="installCommand" /> in the reason, unless the environment variable <paramref name="requireVariable" />
    ///     is "1" or "true": then the absence fails the test (CI sets it, so a missing program cannot pass unseen).
    /// </summary>
    /// <param name="what">What is missing, for the message (e.g. "Headless Chromium").</param>
    /// <param name="installCommand">The command that installs it (e.g. "apt-get install -y chromium chromium-driver").</param>
    /// <param name="requireVariable">The variable that turns absence into a failure.</param>
    /// <param name="otherwise">Another way to provide it (e.g. variables naming the files), or null.</param>
    /// <param name="paths">The files needed.</param>
    public static void Require(string what, string installCommand, string requireVariable, string? otherwise, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var missing = paths.Where(p => !File.Exists(p)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        var message = $"{what} is needed for this test: {string.Join(" and ", missing.Select(p => $"'{p}'"))} not found. "
            + $"Install with '{installCommand}'{(otherwise is null ? "" : $", or {otherwise}")}.";
        if (Environment.GetEnvironmentVariable(requireVariable) is "1" or "true")
        {
            Assert.Fail($"{message} ({requireVariable} is set: this run requires it.)");
        }

        // Not run, rather than failed: a newcomer's `dotnet test` on a fresh machine has no browser, and the README
        // promises that command passes there. The reason names the install command, so the skip is one step from running;
        // CI sets the require variable, so there it fails instead and the test is never silently skipped.
        Assert.Ignore($"{message} (Set {requireVariable}=1 to make this a failure.)");
    }
}
