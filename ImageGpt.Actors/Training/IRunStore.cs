namespace ImageGpt.Actors.Training;

/// <summary>
/// Everything needed to continue a run bit for bit: the weights, Adam's moments and step, the data
/// cursor (the next global step; epoch and step-in-epoch follow from it and the sampler), the seeds,
/// the identity of the config that produced it and the palette.
/// </summary>
/// <param name="Step">Optimizer steps completed; training continues with global step <c>Step</c>.</param>
/// <param name="Epoch">Epoch of the next step.</param>
/// <param name="StepInEpoch">Step within that epoch of the next step.</param>
/// <param name="IdentityJson">Canonical JSON of the settings that decide the weights (model, data, train).</param>
/// <param name="PaletteJson">The palette (Palette.ToJson / FromJson format).</param>
/// <param name="DataSeed">Seed of the data order (train.seed); the order is a pure function of it and the cursor.</param>
public sealed record Checkpoint(
    long Step, long Epoch, int StepInEpoch,
    float[] Parameters, float[] AdamM, float[] AdamV, int AdamStep,
    string IdentityJson, string PaletteJson, ulong DataSeed);

/// <summary>A checkpoint's catalogue row (without its blobs).</summary>
public sealed record CheckpointInfo(long Step, DateTimeOffset Created, long Bytes, string Sha256);

/// <summary>One layer's linear-probe result after a checkpoint.</summary>
public sealed record ProbeRow(string Layer, double BestC, double ValidationAccuracy, double TestAccuracy);

/// <summary>What the evaluator measured on the checkpoint of <c>Step</c>.</summary>
public sealed record EvalResult(
    long Step, double ValidationNats, double ValidationBits, IReadOnlyList<ProbeRow> Probe,
    string? CompletionsPng, double Seconds);

/// <summary>
/// The run's SQL store (SQLite file in the run directory, or PostgreSQL). A checkpoint is written in
/// one transaction as chunked blobs with its SHA-256 and becomes visible only when complete; loading
/// verifies the hash and falls back to the previous checkpoint when it does not match.
/// </summary>
public interface IRunStore : IAsyncDisposable
{
    /// <summary>Writes the checkpoint in one transaction; when it returns the checkpoint is durable and visible.</summary>
    Task SaveCheckpointAsync(Checkpoint checkpoint, CancellationToken ct = default);

    /// <summary>The newest checkpoint whose hash verifies; each one skipped is reported through <paramref name="warn"/>. Null if none.</summary>
    Task<Checkpoint?> LoadLatestCheckpointAsync(Action<string> warn, CancellationToken ct = default);

    /// <summary>Complete checkpoints, oldest first.</summary>
    Task<IReadOnlyList<CheckpointInfo>> ListCheckpointsAsync(CancellationToken ct = default);

    /// <summary>Deletes all but the newest <paramref name="keep"/> complete checkpoints (keep &gt;= 1).</summary>
    Task PruneCheckpointsAsync(int keep, CancellationToken ct = default);

    /// <summary>Stores (or replaces) the evaluation of a step.</summary>
    Task SaveEvalAsync(EvalResult result, CancellationToken ct = default);

    /// <summary>All evaluations, oldest first.</summary>
    Task<IReadOnlyList<EvalResult>> ListEvalsAsync(CancellationToken ct = default);
}
