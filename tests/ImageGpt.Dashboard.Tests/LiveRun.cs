using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host;
using ImageGpt.Host.Commands;
using ImageGpt.Host.Dashboard;

namespace ImageGpt.Dashboard.Tests;

/// <summary>
/// A short real run in this process, as `imagegpt train --dashboard 0` starts it (real Fashion-MNIST, the run's SQLite
/// store, evaluations on), with test hooks, and its dashboard on 127.0.0.1. It trains until <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class LiveRun : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly CancellationTokenSource _stop;
    private readonly ActorSystem _system;
    private readonly RunStore _store;
    private readonly Task<TrainingOutcome> _run;

    private LiveRun(CancellationTokenSource stop, ActorSystem system, RunStore store, Task<TrainingOutcome> run, DashboardServer server, RunConfig config)
    {
        (_stop, _system, _store, _run, Server, Config) = (stop, system, store, run, server, config);
    }

    public DashboardServer Server { get; }
    public RunConfig Config { get; }

    public static async Task<LiveRun> StartAsync(string runDir, TrainingHooks hooks, params string[] sets)
    {
        string reference = ConfigCommand.FindReference();
        var resolved = RunConfigLoader.Layer(ConfigFactory.ParseFile(reference), TrainCommand.DefaultRun(reference), sets).Resolve();
        var config = RunConfigLoader.FromResolved(resolved, ConfigFactory.ParseFile(reference).Resolve(), runDir);
        var store = RunStore.Open(config.Checkpoint, runDir);
        var system = ActorSystem.Create("imagegpt", AkkaSettings.Build(resolved, store));
        var inputs = RunData.Prepare(config, null, TextWriter.Null);
        var feed = new RunFeed();
        var server = await DashboardServer.StartAsync(new LiveRunSource(system, config, feed), System.Net.IPAddress.Loopback, 0, null);
        var stop = new CancellationTokenSource();
        var run = TrainingRun.RunAsync(system, config, inputs, store.Blobs, RunConfigLoader.IdentityJson(config), new Observers(feed), hooks, stop.Token);
        return new LiveRun(stop, system, store, run, server, config);
    }

    /// <summary>Stops the run (final checkpoint), then the dashboard and the actor system; the run must not have failed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        TrainingOutcome outcome = await _run.WaitAsync(Patience);
        await Server.DisposeAsync();
        await CoordinatedShutdown.Get(_system).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(Patience);
        await _store.DisposeAsync();
        _stop.Dispose();
        Assert.Null(outcome.Error);
    }
}
