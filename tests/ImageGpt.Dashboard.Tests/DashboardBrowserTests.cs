using System.Diagnostics;
using System.Text.Json;
using ImageGpt.Actors.Training;
using Microsoft.Data.Sqlite;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace ImageGpt.Dashboard.Tests;

/// <summary>
/// The dashboard of a short real run, opened in Debian's chromium: the step advances, the probe chart appears once the
/// first checkpoint is evaluated, and a trainer made to fail shows as restarting (then running again, its restart
/// counted). Screenshots go to screenshots/ in the test output folder, with the page's load time and bytes.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-browser-").FullName;

    public static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        // An evaluation in flight when the run stopped may still be writing its completions PNG on the evaluator's thread.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(_root, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 50) { Thread.Sleep(100); }
        }
    }

    private const int NotYet = 0, Failing = 1, Done = 2;

    /// <summary>The page has drawn the run's step, the loss chart and the actor tree.</summary>
    private const string FirstData =
        "() => /^\\d+ \\/ \\d+$/.test(document.getElementById('step').textContent) && document.querySelector('#loss-chart svg') && document.querySelector('table.actors tbody tr')";

    [Fact]
    public async Task The_page_shows_the_step_advancing_the_probe_chart_after_a_checkpoint_and_a_failing_trainer_restarting()
    {
        Directory.CreateDirectory(Screenshots);
        // Trainer 1 fails on every shard while the test asks it to, so that each incarnation is restarting (backoff from 1 s,
        // doubling) far longer than the page's one-second poll, whatever the machine's load; its shards are recomputed by
        // trainer 0 after the 2 s step deadline.
        int fault = NotYet;
        var hooks = new TrainingHooks
        {
            BeforeShard = (trainer, _, _) =>
            {
                if (trainer == 1 && Volatile.Read(ref fault) == Failing) throw new InvalidOperationException("injected trainer fault");
            },
        };
        await using var run = await LiveRun.StartAsync(Path.Combine(_root, "browser-run"), hooks,
            "model.layers=2", "model.width=16", "model.heads=2", "model.side=8", "data.limit=512", "train.batch=16", "train.shards=2",
            "train.steps=100000", "train.warmup=50", "runtime.trainers=2", "runtime.step-deadline=2s", "runtime.restart.min-backoff=1s",
            "runtime.restart.max-restarts=50", "checkpoint.every=200", "checkpoint.keep=3", "log.every=10",
            "eval.validation-images=20", "eval.probe.train=60", "eval.probe.validation=20", "eval.probe.test=20",
            "eval.completions.images=2", "eval.completions.per-image=2");
        string url = run.Server.Url.ToString();
        await using var chromium = await Chromium.LaunchAsync();
        IPage page = await chromium.Context.NewPageAsync();
        var elsewhere = new List<string>();
        page.Request += (_, request) => { if (!request.Url.StartsWith(url, StringComparison.Ordinal)) lock (elsewhere) elsewhere.Add(request.Url); };

        var clock = Stopwatch.StartNew();
        await page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Load });
        double loaded = clock.Elapsed.TotalMilliseconds;
        await page.WaitForFunctionAsync(FirstData);
        double drawn = clock.Elapsed.TotalMilliseconds;
        var bytes = JsonDocument.Parse(await page.EvaluateAsync<string>("""
            () => JSON.stringify([...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
                .map(e => ({ name: e.name.replace(location.origin, ''), transfer: e.transferSize, body: e.decodedBodySize })))
            """)).RootElement.EnumerateArray().Select(e => (Name: e.GetProperty("name").GetString()!, Transfer: e.GetProperty("transfer").GetInt64(), Body: e.GetProperty("body").GetInt64())).ToList();
        // Again, the server warm and the files revalidated by their ETags: what an operator sees on a second visit.
        clock.Restart();
        await page.ReloadAsync(new PageReloadOptions { WaitUntil = WaitUntilState.Load });
        double reloaded = clock.Elapsed.TotalMilliseconds;
        await page.WaitForFunctionAsync(FirstData);
        double redrawn = clock.Elapsed.TotalMilliseconds;
        string numbers = $"page load (navigation to load event): {loaded:F0} ms, again {reloaded:F0} ms; first data drawn: {drawn:F0} ms, again {redrawn:F0} ms; {bytes.Count} requests, " +
            $"{bytes.Sum(b => b.Transfer)} bytes transferred ({bytes.Sum(b => b.Body)} bytes of content):\n" + string.Join("\n", bytes.Select(b => $"  {b.Name} {b.Transfer} B ({b.Body} B content)"));
        log.WriteLine(numbers);
        File.WriteAllText(Path.Combine(Screenshots, "page-load.txt"), numbers + "\n");

        // The step advances.
        long first = Step(await page.TextContentAsync("#step"));
        await page.WaitForFunctionAsync("s => parseInt(document.getElementById('step').textContent) > s", first);
        Assert.True(Step(await page.TextContentAsync("#step")) > first);
        Assert.Equal("training", await page.TextContentAsync("#phase"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "1-run.png"), FullPage = true });

        // After the first checkpoint is evaluated: a line in the probe chart for it and the raw-pixel baseline, its checkpoint listed.
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#probe-chart svg g.series').length >= 2 && document.querySelectorAll('#checkpoint-table tbody tr').length >= 1");
        Assert.Contains("raw pixels", await page.Locator("#probe-chart").InnerHTMLAsync());
        await page.Locator("#evaluations").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "2-evaluations.png"), FullPage = true });

        // Trainer 1 fails: its row says Restarting and stands out.
        Volatile.Write(ref fault, Failing);
        ILocator trainer = page.Locator("tr[data-path='/user/node/trainer-1/trainer']");
        await page.WaitForSelectorAsync("tr.unhealthy[data-path='/user/node/trainer-1/trainer'][data-state='Restarting']");
        Assert.Contains("injected trainer fault", await trainer.TextContentAsync());
        IAPIResponse ready = await page.APIRequest.GetAsync(url + "health/ready");
        Assert.Equal(503, ready.Status);
        Assert.Contains("trainer-1/trainer Restarting", await ready.TextAsync());
        await page.Locator("#cluster").ScrollIntoViewIfNeededAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "3-trainer-restarting.png") });

        // Once it stops failing it runs again, with its restarts counted.
        Volatile.Write(ref fault, Done);
        await page.WaitForSelectorAsync("tr[data-path='/user/node/trainer-1/trainer'][data-state='Running']:not(.unhealthy)");
        int restarts = int.Parse((await trainer.Locator("td").Nth(6).TextContentAsync())!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(restarts >= 1, $"restarts shown: {restarts}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "4-trainer-running-again.png") });
        Assert.Equal(200, (await page.APIRequest.GetAsync(url + "health/ready")).Status);
        lock (elsewhere) Assert.Empty(elsewhere);
    }

    private static long Step(string? text) => long.Parse(text!.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
}
