using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using WebSample;

namespace Concurrency.AspNetCore.FunctionalTests;

/// <summary>
///     End to end: the WebSample on Kestrel and PostgreSQL, driven by headless Chromium. The list shows each article's
///     lock; a signed-in user locks an article with a lease, others are refused, the owner unlocks it. Two tabs edit the
///     same record; the second sees the conflict with both versions side by side, the differing fields highlighted, and
///     can overwrite. Screenshots of the pages go to <c>CONCURRENCY_SCREENSHOTS_DIR</c> (docs/images for docs/http.md),
///     else to the test's output folder.
/// </summary>
[NonParallelizable]
public sealed class SampleBrowserTests
{
    private string _connectionString = null!;
    private WebApplication _app = null!;
    private Uri _address = null!;

    [OneTimeSetUp]
    public async Task StartSampleAsync()
    {
        _connectionString = PostgresServer.CreateDatabase("websample");
        _app = SampleApp.Create(["--urls=http://127.0.0.1:0", $"--ConnectionStrings:Default={_connectionString}", "--Logging:LogLevel:Default=Warning"]);
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    [OneTimeTearDown]
    public async Task StopSampleAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        PostgresServer.DropDatabase(_connectionString);
    }

    private static ChromeDriver StartChromium()
    {
        var browser = Environment.GetEnvironmentVariable("CONCURRENCY_TEST_CHROMIUM") ?? "/usr/bin/chromium";
        var driver = Environment.GetEnvironmentVariable("CONCURRENCY_TEST_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        ExternalProgram.Require(
            "Headless Chromium",
            "apt-get install -y chromium chromium-driver",
            "CONCURRENCY_REQUIRE_CHROMIUM",
            "set CONCURRENCY_TEST_CHROMIUM and CONCURRENCY_TEST_CHROMEDRIVER",
            browser,
            driver);

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = browser };
        options.AddArguments(
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-dev-shm-usage",
            "--window-size=1000,700",
            "--hide-scrollbars");
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    private static IWebElement WaitFor(IWebDriver driver, By by)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var found = driver.FindElements(by);
            if (found.Count > 0)
            {
                return found[0];
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"'{by}' did not appear. Page: {driver.Title}\n{driver.PageSource}");
            }

            Thread.Sleep(100);
        }
    }

    /// <summary>Saves what the window shows as <paramref name="name" />.png (docs/http.md shows them).</summary>
    private static void Screenshot(IWebDriver driver, string name)
    {
        var folder = Environment.GetEnvironmentVariable("CONCURRENCY_SCREENSHOTS_DIR") is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(path);
        TestContext.AddTestAttachment(path);
    }

    private static void SignIn(IWebDriver driver, string name)
    {
        WaitFor(driver, By.Id("user-name")).SendKeys(name);
        driver.FindElement(By.Id("sign-in")).Click();
        Assert.That(WaitFor(driver, By.Id("user")).Text, Is.EqualTo(name));
    }

    private static void Edit(IWebDriver driver, string title)
    {
        var input = WaitFor(driver, By.Id("title"));
        input.Clear();
        input.SendKeys(title);
        driver.FindElement(By.Id("save")).Click();
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task The_list_shows_the_lock_that_a_signed_in_user_takes_on_the_edit_page_and_releases()
    {
        using var driver = StartChromium();
        driver.Navigate().GoToUrl(new Uri(_address, "/").ToString());
        Assert.That(WaitFor(driver, By.TagName("h1")).Text, Is.EqualTo("All articles"));
        Assert.That(driver.FindElements(By.CssSelector("#articles tbody tr")), Has.Count.GreaterThanOrEqualTo(3));
        SignIn(driver, "alice");

        // alice locks article 2 for 15 minutes: the page and the list show her as the owner, with the lease.
        driver.FindElement(By.CssSelector("#article-2 a")).Click();
        WaitFor(driver, By.CssSelector("#lease option[value='15']")).Click();
        driver.FindElement(By.Id("lock")).Click();
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Locked. Only you can save changes until you unlock it."));
        Assert.That(driver.FindElement(By.Id("lock-state")).Text, Does.StartWith("Locked").And.Contain("by alice until "));
        var stored = await StoredAsync(2);
        Assert.That((stored.IsLocked, stored.LockedBy), Is.EqualTo((true, "alice")));
        Assert.That(stored.LockExpiresAt, Is.GreaterThan(DateTimeOffset.UtcNow.AddMinutes(14)));
        Screenshot(driver, "edit");

        // The owner may keep saving.
        driver.FindElement(By.Id("body")).SendKeys("\n4. Announce the release.");
        driver.FindElement(By.Id("save")).Click();
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Saved."));

        driver.FindElement(By.LinkText("All articles")).Click();
        Assert.That(WaitFor(driver, By.CssSelector("#article-2 .lock")).Text, Does.StartWith("Locked by alice until "));
        Assert.That(driver.FindElement(By.CssSelector("#article-1 .lock")).Text, Is.EqualTo("Not locked"));
        Screenshot(driver, "list");

        // Anyone else is refused, with a text for users.
        driver.FindElement(By.Id("sign-out")).Click();
        WaitFor(driver, By.Id("sign-in"));
        driver.FindElement(By.CssSelector("#article-2 a")).Click();
        Assert.That(WaitFor(driver, By.Id("locked")).Text, Is.EqualTo("This article is locked. Only alice can save changes until it is unlocked."));
        Assert.That(driver.FindElements(By.Id("unlock")), Is.Empty, "only the owner is offered to unlock");
        Edit(driver, "Not allowed");
        Assert.That(WaitFor(driver, By.Id("message")).Text, Does.StartWith("This article is locked by alice until "));
        Assert.That((await StoredAsync(2)).Title, Is.EqualTo("Release checklist"), "nothing written");

        // alice unlocks it.
        driver.FindElement(By.LinkText("Back")).Click();
        SignIn(driver, "alice");
        driver.FindElement(By.Id("unlock")).Click();
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Does.StartWith("Unlocked."));
        Assert.That(driver.FindElement(By.Id("lock-state")).Text, Is.EqualTo("Not locked"));
        Assert.That((await StoredAsync(2)).IsLocked, Is.False);
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task Two_tabs_edit_the_same_record_and_the_second_sees_the_conflict_side_by_side()
    {
        using var driver = StartChromium();
        var editPage = new Uri(_address, "/articles/3/edit").ToString();

        driver.Navigate().GoToUrl(editPage);
        var firstTab = driver.CurrentWindowHandle;
        driver.SwitchTo().NewWindow(WindowType.Tab);
        driver.Navigate().GoToUrl(editPage);
        var secondTab = driver.CurrentWindowHandle;

        driver.SwitchTo().Window(firstTab);
        Edit(driver, "Office opening hours (summer)");
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Saved."));

        driver.SwitchTo().Window(secondTab);
        Edit(driver, "Office opening hours from May");
        Assert.That(WaitFor(driver, By.Id("conflict")).Text, Does.Contain("Someone else saved this article"));
        Assert.That(driver.FindElement(By.Id("mine-title")).Text, Is.EqualTo("Office opening hours from May"));
        Assert.That(driver.FindElement(By.Id("theirs-title")).Text, Is.EqualTo("Office opening hours (summer)"));
        Assert.That(driver.FindElement(By.Id("row-title")).GetAttribute("class"), Does.Contain("differs"), "the title differs");
        Assert.That(driver.FindElement(By.Id("row-body")).GetAttribute("class"), Does.Not.Contain("differs"), "the body is the same (CRLF from the form is not a change)");
        Assert.That((await StoredAsync(3)).Title, Is.EqualTo("Office opening hours (summer)"), "the second save wrote nothing");
        Screenshot(driver, "conflict");

        // The second user chooses to overwrite: saved over the version they were shown.
        driver.FindElement(By.Id("overwrite")).Click();
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Saved."));
        Assert.That(driver.FindElement(By.Id("title")).GetAttribute("value"), Is.EqualTo("Office opening hours from May"));
        Assert.That((await StoredAsync(3)).Title, Is.EqualTo("Office opening hours from May"));

        // The first tab is stale now: its reload link shows the current version.
        driver.SwitchTo().Window(firstTab);
        Edit(driver, "First tab again");
        WaitFor(driver, By.Id("conflict"));
        driver.FindElement(By.Id("reload")).Click();
        Assert.That(WaitFor(driver, By.Id("title")).GetAttribute("value"), Is.EqualTo("Office opening hours from May"));
        Assert.That(driver.FindElements(By.Id("notice")), Is.Empty, "nothing was saved, so nothing says so");
    }

    private async Task<Article> StoredAsync(int id)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SampleDb>();
        return await db.Articles.AsNoTracking().SingleAsync(a => a.Id == id);
    }
}
