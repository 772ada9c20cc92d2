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
    private readonly HistoryCache _history = new(readSystem, runId, () => StoreVersion(runDir), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5));
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
        if (status.Cluster is { } cluster) return RunCluster.Of(cluster, cluster.Root, status.Health);
        return LocalCluster.Of($"akka://{status.Health.System} (pid {status.Pid})", Commands.StatusCommand.IsAlive(status.Pid) ? "Up" : "Removed", status.Health);
    }

    public IReadOnlyList<LossPoint> TrainingLoss() => _metrics?.Read().Loss ?? [];

    public Task<RunHistory> HistoryAsync(CancellationToken ct) => _history.GetAsync(ct);

    public string? NotReady() => _history.Problem;

    /// <summary>
    /// Changes whenever the run's SQLite store is written (its write-ahead log, or the file after a checkpoint of the log);
    /// null when there is no run.db to look at (PostgreSQL).
    /// </summary>
    private static long? StoreVersion(string? runDir)
    {
        if (runDir is null) return null;
        var db = new FileInfo(Path.Combine(runDir, RunStore.SqliteFileName));
        if (!db.Exists) return null;
        var wal = new FileInfo(db.FullName + "-wal");
        return HashCode.Combine(db.Length, db.LastWriteTimeUtc, wal.Exists ? wal.Length : -1, wal.Exists ? wal.LastWriteTimeUtc : default);
    }
}
