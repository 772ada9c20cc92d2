using ImageGpt.Actors.Health;

namespace ImageGpt.Host.Dashboard;

// The JSON the dashboard's /api endpoints return (camelCase; numbers that are not finite are null). The page reads
// exactly these, so a script sees everything the page shows.

/// <summary>/api/run: where the run is. Rates are over the last 20 steps; <c>Mfu</c> is model FLOPs over the cores' ceiling.</summary>
public sealed record RunProgress(
    string RunId, string Phase, bool Live, int? Pid, DateTime? UpdatedUtc, long Step, long TotalSteps, long? Epoch,
    double? Loss, double? LossBits, double? Lr, double? TokensPerSecond, double? Mfu, double? TrainerBusy, double? DataWait,
    double? ElapsedSeconds, double? EtaSeconds, string? Error, int Checkpoints, int Evaluations, long HistoryEvents, string? Ended);

/// <summary>One point of a loss curve: nats per token at a step.</summary>
public sealed record LossPoint(long Step, double Nats);

/// <summary>/api/loss: the training loss (every logged step, thinned to at most a thousand points) and the validation loss of each evaluation.</summary>
public sealed record LossCurves(IReadOnlyList<LossPoint> Training, IReadOnlyList<LossPoint> Validation);

/// <summary>A member of the cluster as /api/cluster shows it, with the actors of its node.</summary>
public sealed record ClusterMember(
    string Address, IReadOnlyList<string> Roles, string Status, bool Reachable, bool Leader, IReadOnlyList<string> Singletons, HealthSnapshot? Actors);

/// <summary>/api/cluster: this node's address, the leader's and every member (Akka.Cluster's MemberStatus names).</summary>
public sealed record ClusterState(string Self, string? Leader, IReadOnlyList<ClusterMember> Members);

/// <summary>One layer's probe in /api/evaluations (accuracies as fractions).</summary>
public sealed record ProbeView(string Layer, double BestC, double Validation, double Test);

/// <summary>/api/evaluations: one per evaluated checkpoint, oldest first; <c>Completions</c> is the URL of its PNG grid.</summary>
public sealed record EvaluationView(
    long Step, DateTimeOffset At, double Seconds, double? ValidationNats, double? ValidationBits, IReadOnlyList<ProbeView> Probe,
    ProbeView? RawPixels, string? Completions, IReadOnlyList<long> Skipped);

/// <summary>/api/checkpoints: one per checkpoint whose payload exists; <c>Safetensors</c> is the URL of its exported weights.</summary>
public sealed record CheckpointView(long Step, long Epoch, DateTimeOffset At, long Bytes, string Sha256, double Seconds, string? Safetensors);

/// <summary>/health/live and /health/ready.</summary>
public sealed record HealthReply(string Status, string? Reason);
