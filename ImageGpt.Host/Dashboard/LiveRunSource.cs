using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The run of this process (<c>imagegpt train --dashboard</c>): step reports from <see cref="RunFeed"/>, the health of every
/// actor from the <see cref="HealthRegistry"/>, the phase from the status.json the run rewrites every second, the history
/// from the run's own journal through Akka.Persistence.Query.
/// </summary>
public sealed class LiveRunSource(ActorSystem system, RunConfig config, RunFeed feed) : IRunSource
{
    private readonly HistoryCache _history = new(system, config.RunId, () => feed.Announced, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5));
    private readonly RunShape _shape = RunShape.Of(config);

    public string RunId => config.RunId;
    public string? RunDir => config.RunDir;

    /// <summary>The node's address as Akka.Cluster will name it; without remoting, the local system's.</summary>
    private string Address => ((ExtendedActorSystem)system).Provider.DefaultAddress.ToString();

    public RunProgress Progress(RunHistory? history) =>
        ProgressReading.Build(config.RunId, RunStatus.TryRead(config.RunDir), feed.Last, _shape, live: true, history, config.Train.Steps);

    /// <summary>The run's cluster as its root wrote it (this node's actors on this node's line), else this node alone.</summary>
    public ClusterState Cluster()
    {
        var actors = HealthRegistry.Get(system).Snapshot();
        return RunStatus.TryRead(config.RunDir)?.Cluster is { } cluster && cluster.Members.Any(m => m.Address == Address)
            ? RunCluster.Of(cluster, Address, Address, actors)
            : LocalCluster.Of(Address, !system.WhenTerminated.IsCompleted, actors);
    }

    public IReadOnlyList<LossPoint> TrainingLoss() => feed.Loss();

    public Task<RunHistory> HistoryAsync(CancellationToken ct) => _history.GetAsync(ct);

    public string? NotReady()
    {
        ClusterState cluster = Cluster();
        ClusterMember self = cluster.Members.Single(m => m.Address == cluster.Self);
        if (self.Status != "Up") return $"this node is {self.Status}";
        var down = self.Actors!.Actors.Where(a => a.State != ActorState.Running).Select(a => $"{a.Path} {a.State}").ToList();
        if (self.Actors.Actors.Count == 0) return "the run's actors have not started";
        return down.Count > 0 ? $"not running: {string.Join(", ", down)}" : null;
    }
}
