using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Observation and fault-injection points for tests (null in production): a hook that throws makes
/// the actor fail exactly as a real fault would, so supervision and recomputation are exercised.
/// </summary>
public sealed class TrainingHooks
{
    /// <summary>Called by a trainer before it computes (trainer, global step, shard).</summary>
    public Action<int, long, int>? BeforeShard { get; init; }

    /// <summary>Called by a loader before it builds a batch (trainer, shard id).</summary>
    public Action<int, ShardId>? BeforeLoad { get; init; }

    /// <summary>When set, the aggregator records every reduced shard (id and samples) here.</summary>
    public BatchLedger? Ledger { get; init; }
}
