using Microsoft.Playwright;

namespace ImageGpt.Dashboard.Tests;

/// <summary>
/// Debian's chromium driven by Playwright: the driver is the Node.js the Microsoft.Playwright package ships (copied next to
/// the tests as .playwright/), the browser is /usr/bin/chromium (ExecutablePath), headless, with a fresh profile and none of
/// the background traffic a browser makes on its own. Nothing is downloaded.
/// </summary>
internal sealed class Chromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly string _profile;

    private Chromium(IPlaywright playwright, IBrowserContext context, string profile) => (_playwright, Context, _profile) = (playwright, context, profile);

    public IBrowserContext Context { get; }

    public static async Task<Chromium> LaunchAsync()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing. HINT: apt-get install -y chromium (.ci/run does)");
        IPlaywright playwright = await Playwright.CreateAsync();
        string profile = Directory.CreateTempSubdirectory("igpt-chromium-").FullName;
        IBrowserContext context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            Timeout = (float)LiveRun.Patience.TotalMilliseconds,
        });
        context.SetDefaultTimeout((float)LiveRun.Patience.TotalMilliseconds);
        return new Chromium(playwright, context, profile);
    }

    public async ValueTask DisposeAsync()
    {
        await Context.CloseAsync();
        _playwright.Dispose();
        Directory.Delete(_profile, recursive: true);
    }
}
