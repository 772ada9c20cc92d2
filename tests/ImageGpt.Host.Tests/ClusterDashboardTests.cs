using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ImageGpt.Host.Commands;
using Xunit.Abstractions;

namespace ImageGpt.Host.Tests;

/// <summary>
/// Every member's actors seen from another process: `imagegpt train --dashboard 0` and `imagegpt node --dashboard 0` as
/// real processes on 127.0.0.1 sharing a run directory, each dashboard showing the other member's trainer with its state,
/// `imagegpt status` showing the node's trainer as the run's root last heard it, and the node's /health/ready once it is
/// Up with its actors running. The run is long; the processes are killed when the test ends.
/// </summary>
[Collection(ClusterProcessTests.Collection)]
public sealed class ClusterDashboardTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-cluster-dash-").FullName;
    private readonly List<Child> _children = [];

    public void Dispose()
    {
        foreach (var child in _children) child.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private Child Start(string command, string runDir, params string[] extra)
    {
        var child = new Child(command, [.. ClusterRunArgs.Run, "--run-dir", runDir, "--set", "train.steps=1000000", "--set", "checkpoint.every=100000", .. extra], log);
        _children.Add(child);
        return child;
    }

    private static async Task<Uri> Dashboard(Child child) =>
        new((await child.Line(l => l.StartsWith("dashboard: http://127.0.0.1:", StringComparison.Ordinal)))["dashboard: ".Length..].Trim());

    /// <summary>The first value of <paramref name="read"/> that is not null, asked every 200 ms for at most a minute.</summary>
    private static async Task<T> Eventually<T>(string what, Func<Task<T?>> read) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < RunFiles.Patience)
        {
            if (await read() is { } value) return value;
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"{what} did not happen within {RunFiles.Patience.TotalSeconds} s");
    }

    /// <summary>The state of <paramref name="member"/>'s trainer-0 in a dashboard's /api/cluster, or null while it is not there.</summary>
    private static async Task<string?> TrainerState(HttpClient http, Uri dashboard, string member)
    {
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(dashboard, "api/cluster")));
        var m = doc.RootElement.GetProperty("members").EnumerateArray().SingleOrDefault(x => x.GetProperty("address").GetString() == member);
        if (m.ValueKind != JsonValueKind.Object || m.GetProperty("actors").ValueKind != JsonValueKind.Object) return null;
        return m.GetProperty("actors").GetProperty("actors").EnumerateArray()
            .Where(a => a.GetProperty("path").GetString()!.EndsWith("/user/node/trainer-0/trainer", StringComparison.Ordinal)).Select(a => a.GetProperty("state").GetString()).SingleOrDefault();
    }

    [Fact]
    public async Task Each_members_dashboard_and_status_show_the_other_members_trainer_and_the_node_is_ready_once_up()
    {
        string dir = Path.Combine(_root, "run");
        var train = Start("train", dir, "--set", "cluster.min-trainers=2", "--dashboard", "0");
        string seed = await train.Seed();
        var node = Start("node", dir, "--seed", seed, "--dashboard", "0");
        Uri trainDashboard = await Dashboard(train), nodeDashboard = await Dashboard(node);
        string root = System.Text.RegularExpressions.Regex.Match(await train.Line(l => l.StartsWith("cluster: member ", StringComparison.Ordinal)), @"cluster: member (\S+) ").Groups[1].Value;
        string other = System.Text.RegularExpressions.Regex.Match(await node.Line(l => l.StartsWith("cluster: member ", StringComparison.Ordinal)), @"cluster: member (\S+) ").Groups[1].Value;
        using var http = new HttpClient { Timeout = RunFiles.Patience };

        // The node's own readiness: Up in the cluster, with its actors running.
        string ready = await Eventually("the node's /health/ready", async () =>
        {
            using var response = await http.GetAsync(new Uri(nodeDashboard, "health/ready"));
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : null;
        });
        Assert.Equal("""{"status":"ready","reason":null}""", ready);

        // Each dashboard shows the other process's trainer with its state.
        Assert.Equal("Running", await Eventually("the root's trainer on the node's dashboard", () => TrainerState(http, nodeDashboard, root)));
        Assert.Equal("Running", await Eventually("the node's trainer on the root's dashboard", () => TrainerState(http, trainDashboard, other)));
        using (var cluster = JsonDocument.Parse(await http.GetStringAsync(new Uri(nodeDashboard, "api/cluster"))))
        {
            Assert.Equal(other, cluster.RootElement.GetProperty("self").GetString());
            var members = cluster.RootElement.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(new[] { root, other }.Order(StringComparer.Ordinal), members.Select(m => m.GetProperty("address").GetString()!).Order(StringComparer.Ordinal));
            Assert.Equal(["aggregator"], members.Single(m => m.GetProperty("address").GetString() == root).GetProperty("singletons").EnumerateArray().Select(s => s.GetString()));
        }
        using (var run = JsonDocument.Parse(await http.GetStringAsync(new Uri(nodeDashboard, "api/run"))))
            Assert.Equal("run", run.RootElement.GetProperty("runId").GetString());

        // imagegpt status: the node's actors, as the run's root last heard them, with its trainer and loader (a report
        // sent while the node was still starting its actors may hold the one and not yet the other: wait for both).
        string[] section = await Eventually("the node's trainer and loader in imagegpt status", () =>
        {
            var output = new StringWriter();
            Assert.Equal(0, StatusCommand.Run(["--run-dir", dir], output));
            var lines = output.ToString().Split('\n');
            int start = Array.FindIndex(lines, l => l.StartsWith($"actors of {other}, as of ", StringComparison.Ordinal));
            if (start < 0) return Task.FromResult<string[]?>(null);
            var mine = lines.Skip(start + 1).TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
            bool both = mine.Any(l => l.TrimStart().StartsWith("/user/node/trainer-0/trainer ", StringComparison.Ordinal))
                && mine.Any(l => l.TrimStart().StartsWith("/user/node/loader-0/loader ", StringComparison.Ordinal));
            return Task.FromResult(both ? mine : null);
        });
        Assert.Matches(@"^ +/user/node/trainer-0/trainer +Running +\d+", section.Single(l => l.Contains("/user/node/trainer-0/trainer ", StringComparison.Ordinal)));
        Assert.Matches(@"^ +/user/node/loader-0/loader +Running +\d+", section.Single(l => l.Contains("/user/node/loader-0/loader ", StringComparison.Ordinal)));
    }
}
