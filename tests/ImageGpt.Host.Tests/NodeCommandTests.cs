using System.Net;
using System.Net.Sockets;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;

namespace ImageGpt.Host.Tests;

/// <summary>`imagegpt node` and the cluster settings of `imagegpt train`: what is refused, with one line, before anything trains.</summary>
public sealed class NodeCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-node-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly string[] Run = [.. ClusterRunArgs.Run, "--set", "cluster.join-timeout=2s"];

    private static Task<int> Node(params string[] args) => NodeCommand.RunAsync(args, new StringWriter(), interactive: false);

    /// <summary>A run directory whose store holds a started run (a hand-made history), as a node finds one it joins.</summary>
    private async Task<string> StartedRun(string name, params string[] sets)
    {
        string runDir = Path.Combine(_root, name);
        var reference = ConfigFactory.ParseFile(ConfigCommand.FindReference());
        var config = RunConfigLoader.FromResolved(RunConfigLoader.Layer(reference, Run[1], [.. ClusterRunArgs.Sets(Run), .. sets]).Resolve(), reference.Resolve(), runDir);
        float[] gray = Enumerable.Range(0, 16).Select(i => -1f + 2f * i / 15).ToArray();
        await RunFiles.RecordAsync(runDir, name,
            new RunStarted(name, RunConfigLoader.IdentityJson(config), new Nn.Palette.Palette(1, gray).ToJson(), config.Train.Steps, DateTimeOffset.UtcNow));
        return runDir;
    }

    [Fact]
    public async Task A_node_whose_config_is_not_the_runs_is_refused_in_one_line_naming_the_difference()
    {
        string runDir = await StartedRun("other-config");
        var e = await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", runDir, "--seed", "127.0.0.1:9", "--set", "train.lr=1e-4"]));
        Assert.Contains("train.lr", e.Message);
        Assert.Contains("HINT: start the node with the run's config", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_seed_that_does_not_answer_is_one_line_after_the_join_timeout()
    {
        string runDir = await StartedRun("no-seed");
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var e = await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", runDir, "--seed", $"127.0.0.1:{port}"]));
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("within 2 s", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_node_with_no_seed_a_bad_seed_or_no_run_to_join_is_one_line()
    {
        string runDir = await StartedRun("seeds");
        Assert.Contains("--seed", (await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", runDir]))).Message);
        Assert.Contains("is not host:port", (await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", runDir, "--seed", "localhost"]))).Message);
        string empty = Path.Combine(_root, "empty");
        var missing = await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", empty, "--seed", "127.0.0.1:9"]));
        Assert.DoesNotContain('\n', missing.Message);
    }

    [Fact]
    public async Task A_dashboard_port_in_use_is_one_line_before_the_node_joins()
    {
        string runDir = await StartedRun("dashboard-port");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var e = await Assert.ThrowsAsync<UserError>(() => Node([.. Run, "--run-dir", runDir, "--seed", "127.0.0.1:9", "--dashboard", $"{port}"]));
        Assert.StartsWith($"the dashboard cannot listen on 127.0.0.1:{port}: ", e.Message);
        Assert.Contains("HINT: pick another port", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_remoting_port_in_use_is_one_line()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var e = await Assert.ThrowsAsync<UserError>(() => TrainCommand.RunAsync([.. Run, "--run-dir", Path.Combine(_root, "port"), "--set", $"akka.remote.dot-netty.tcp.port={port}"],
            new StringWriter(), interactive: false));
        Assert.Contains($"akka.remote.dot-netty.tcp.port = {port}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
