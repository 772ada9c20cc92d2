using System.Text.Json;
using ImageGpt.Host.Commands;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Host.Tests.Dashboard;

/// <summary>`imagegpt train --dashboard 0`: the run's own process serves its dashboard from before the data are prepared to the end.</summary>
public sealed class TrainDashboardTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-train-dash-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Reads the dashboard the moment the command prints its address (on the command's own thread, before training starts).</summary>
    private sealed class Watcher : StringWriter
    {
        public string? Run { get; private set; }
        public string? Live { get; private set; }

        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.StartsWith("dashboard: http://127.0.0.1:", StringComparison.Ordinal) != true) return;
            using var http = new HttpClient { BaseAddress = new Uri(value["dashboard: ".Length..]), Timeout = RunFiles.Patience };
            Live = http.GetStringAsync("/health/live").GetAwaiter().GetResult();
            Run = http.GetStringAsync("/api/run").GetAwaiter().GetResult();
        }
    }

    [Fact]
    public async Task Train_with_dashboard_serves_the_run_and_stops_serving_when_it_ends()
    {
        string dir = Path.Combine(_root, "served");
        var output = new Watcher();
        Assert.Equal(0, await TrainCommand.RunAsync([.. TrainCommandTests.Tiny, "--run-dir", dir, "--set", "train.steps=8", "--dashboard", "0"], output, interactive: false));
        Assert.Equal("""{"status":"live","reason":null}""", output.Live);
        JsonElement run = JsonDocument.Parse(output.Run!).RootElement;
        Assert.Equal("served", run.GetProperty("runId").GetString());
        Assert.Equal("starting", run.GetProperty("phase").GetString());
        Assert.Equal((0, 8), (run.GetProperty("step").GetInt64(), run.GetProperty("totalSteps").GetInt64()));
        Assert.DoesNotContain("secret", output.ToString());
        string url = output.ToString().Split('\n').Single(l => l.StartsWith("dashboard: ", StringComparison.Ordinal))["dashboard: ".Length..].Trim();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(url + "health/live"));
    }
}
