using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The run of this process (<c>imagegpt train --dashboard</c>, <c>imagegpt node --dashboard</c>): step reports from
/// <see cref="RunFeed"/> (while the run's root is in this process), the cluster from this member's own view with the health
/// of every member's actors (<see cref="ClusterHealth"/>), the phase from the status.json the run's root rewrites every
/// second (when it shares this run directory), the history from the run's journal through Akka.Persistence.Query.
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

    /// <summary>
    /// The run's cluster as this member sees it now (every member's actors as they last answered, <see cref="ClusterHealth"/>);
    /// this node alone while it is not a member (before it has joined, after it has left) or when the run has no cluster.
    /// </summary>
    public ClusterState Cluster()
    {
        bool clustered = ((ExtendedActorSystem)system).Provider is Akka.Cluster.ClusterActorRefProvider;
        if (clustered && ClusterView.Seen(system) is { } view) return RunCluster.Of(view, Address);
        string status = system.WhenTerminated.IsCompleted || (clustered && Akka.Cluster.Cluster.Get(system).IsTerminated) ? "Removed" : clustered ? "Joining" : "Up";
        return LocalCluster.Of(Address, status, HealthRegistry.Get(system).Snapshot());
    }

    public IReadOnlyList<LossPoint> TrainingLoss() => feed.Loss();

    public Task<RunHistory> HistoryAsync(CancellationToken ct) => _history.GetAsync(ct);

    public string? NotReady()
    {
        ClusterState cluster = Cluster();
        ClusterMember self = cluster.Members.Single(m => m.Address == cluster.Self);
        if (self.Status != "Up") return $"this node is {self.Status} in the run's cluster, not Up";
        var down = self.Actors!.Actors.Where(a => a.State != ActorState.Running).Select(a => $"{a.Path} {a.State}").ToList();
        if (self.Actors.Actors.Count == 0) return "the run's actors have not started";
        return down.Count > 0 ? $"not running: {string.Join(", ", down)}" : null;
    }
}
