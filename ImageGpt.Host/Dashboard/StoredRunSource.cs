using Akka.Actor;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// A run read from the outside (<c>imagegpt dashboard</c>), live or finished, without joining it: its history from the
/// store through a read-only actor system, the loss from metrics.jsonl, the phase and the actors from status.json (as
/// <c>imagegpt status</c> reads them). Any of the files may be missing (a PostgreSQL run read from elsewhere).
/// </summary>
public sealed class StoredRunSource(ActorSystem readSystem, string? runDir, string runId) : IRunSource
{
    private readonly HistoryCache _history = new(readSystem, runId, TimeSpan.FromSeconds(2));
    private readonly MetricsFile? _metrics = runDir is null ? null : new MetricsFile(runDir);

    public string RunId => runId;
    public string? RunDir => runDir;

    private RunStatus? Status => runDir is null ? null : RunStatus.TryRead(runDir);

    public RunProgress Progress(RunHistory? history)
    {
        RunStatus? status = Status;
        StepReport? last = _metrics?.Read().Last;
        int trainers = status?.Health.Actors.Count(a => a.Path.EndsWith("/trainer", StringComparison.Ordinal)) ?? 0;
        RunShape? shape = history?.Started is { } started ? RunShape.FromIdentity(started.IdentityJson, trainers) : null;
        return ProgressReading.Build(runId, status, last, shape, status is not null && Commands.StatusCommand.IsAlive(status.Pid), history);
    }

    public ClusterState Cluster()
    {
        RunStatus? status = Status;
        if (status is null) return new ClusterState("none", null, []);
        return LocalCluster.Of($"akka://{status.Health.System} (pid {status.Pid})", Commands.StatusCommand.IsAlive(status.Pid), status.Health);
    }

    public IReadOnlyList<LossPoint> TrainingLoss() => _metrics?.Read().Loss ?? [];

    public Task<RunHistory> HistoryAsync(CancellationToken ct) => _history.GetAsync(ct);

    public string? NotReady() => _history.Problem;
}
