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
///     End to end: the WebSample on Kestrel and PostgreSQL, driven by headless Chromium. Two tabs edit the same record;
///     the second sees the conflict with both versions side by side, and can overwrite.
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
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage");
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

    private static void Edit(IWebDriver driver, string title)
    {
        var input = WaitFor(driver, By.Id("title"));
        input.Clear();
        input.SendKeys(title);
        driver.FindElement(By.Id("save")).Click();
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task Two_tabs_edit_the_same_record_and_the_second_sees_the_conflict_side_by_side()
    {
        using var driver = StartChromium();
        var editPage = new Uri(_address, "/articles/1/edit").ToString();

        driver.Navigate().GoToUrl(editPage);
        var firstTab = driver.CurrentWindowHandle;
        driver.SwitchTo().NewWindow(WindowType.Tab);
        driver.Navigate().GoToUrl(editPage);
        var secondTab = driver.CurrentWindowHandle;

        driver.SwitchTo().Window(firstTab);
        Edit(driver, "From the first tab");
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Saved."));

        driver.SwitchTo().Window(secondTab);
        Edit(driver, "From the second tab");
        Assert.That(WaitFor(driver, By.Id("conflict")).Text, Does.Contain("Someone else saved this article"));
        Assert.That(driver.FindElement(By.Id("mine-title")).Text, Is.EqualTo("From the second tab"));
        Assert.That(driver.FindElement(By.Id("theirs-title")).Text, Is.EqualTo("From the first tab"));
        Assert.That(await StoredTitleAsync(), Is.EqualTo("From the first tab"), "the second save wrote nothing");

        // The second user chooses to overwrite: saved over the version they were shown.
        driver.FindElement(By.Id("overwrite")).Click();
        Assert.That(WaitFor(driver, By.Id("notice")).Text, Is.EqualTo("Saved."));
        Assert.That(driver.FindElement(By.Id("title")).GetAttribute("value"), Is.EqualTo("From the second tab"));
        Assert.That(await StoredTitleAsync(), Is.EqualTo("From the second tab"));

        // The first tab is stale now: its reload link shows the current version.
        driver.SwitchTo().Window(firstTab);
        Edit(driver, "First tab again");
        WaitFor(driver, By.Id("conflict"));
        driver.FindElement(By.Id("reload")).Click();
        Assert.That(WaitFor(driver, By.Id("title")).GetAttribute("value"), Is.EqualTo("From the second tab"));
    }

    private async Task<string> StoredTitleAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SampleDb>();
        return (await db.Articles.AsNoTracking().SingleAsync(a => a.Id == 1)).Title;
    }
}
