namespace ImageGpt.Actors.History;

// The events of a run's history, journaled by RunHistoryActor with persistence id = run id (one database
// holds many runs) and read back through Akka.Persistence.Query by `imagegpt status`, `--resume` and the
// evaluation tables. They are small: checkpoint payloads live in the blob tables and an event only names one.

/// <summary>Every event of a run's history (the serialization binding of <see cref="RunEventSerializer"/>).</summary>
public interface IRunEvent
{
    DateTimeOffset At { get; }
}

/// <summary>A run began: the settings that decide its weights (canonical JSON) and its palette.</summary>
public sealed record RunStarted(string RunId, string IdentityJson, string PaletteJson, long TotalSteps, DateTimeOffset At) : IRunEvent;

/// <summary>A process took the run up again from the checkpoint of <c>Step</c>.</summary>
public sealed record RunResumed(long Step, DateTimeOffset At) : IRunEvent;

/// <summary>
/// A checkpoint is durable: its payload (blob <c>BlobId</c>, <c>Bytes</c> long, SHA-256 <c>Sha256</c>) was
/// committed before this event was written, so an event never names a partial payload.
/// </summary>
public sealed record CheckpointCommitted(
    long Step, long Epoch, int StepInEpoch, int AdamStep, ulong DataSeed,
    string BlobId, long Bytes, string Sha256, double Seconds, DateTimeOffset At) : IRunEvent;

/// <summary>The payloads of these checkpoints were deleted (checkpoint.keep); their events stay as history.</summary>
public sealed record CheckpointsPruned(IReadOnlyList<long> Steps, DateTimeOffset At) : IRunEvent;

/// <summary>One layer's linear probe: the regularization chosen on validation and the accuracies.</summary>
public sealed record ProbeRow(string Layer, double BestC, double ValidationAccuracy, double TestAccuracy);

/// <summary>
/// The evaluator's measurements on the checkpoint of <c>Step</c>: validation loss (NaN when off), the probe of
/// every layer, the raw-pixel baseline (the first evaluation of a process computes it), the completions PNG, and the
/// checkpoints it skipped because it fell behind.
/// </summary>
public sealed record EvaluationRecorded(
    long Step, double ValidationNats, double ValidationBits, IReadOnlyList<ProbeRow> Probe, ProbeRow? RawPixels,
    string? CompletionsPng, double Seconds, IReadOnlyList<long> Skipped, DateTimeOffset At) : IRunEvent;

/// <summary>Stopped before the last step (Ctrl-C, SIGTERM); resumable from the checkpoint of <c>Step</c>.</summary>
public sealed record RunStopped(long Step, string Reason, DateTimeOffset At) : IRunEvent;

/// <summary>The last step is done and checkpointed, and the evaluations are recorded.</summary>
public sealed record RunFinished(long Step, DateTimeOffset At) : IRunEvent;

/// <summary>The run could not go on; the last checkpoint is intact and --resume continues from it.</summary>
public sealed record RunFailed(long Step, string Error, DateTimeOffset At) : IRunEvent;
