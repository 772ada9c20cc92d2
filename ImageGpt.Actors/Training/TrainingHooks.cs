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

    /// <summary>Called by a trainer after it has sent a shard's gradient to the aggregator (trainer, global step, shard).</summary>
    public Action<int, long, int>? AfterShard { get; init; }

    /// <summary>Called by a loader before it builds a batch (trainer, shard id).</summary>
    public Action<int, ShardId>? BeforeLoad { get; init; }

    /// <summary>Called by a trainer before it waits for its loader's batch (trainer, global step, shard); virtual-time tests advance the clock then.</summary>
    public Action<int, long, int>? BeforeLaneWait { get; init; }

    /// <summary>Called by the aggregator before it fetches a shard's gradient from a trainer in another process (global step, shard); a throw fails that fetch.</summary>
    public Action<long, int>? BeforeFetch { get; init; }

    /// <summary>Asked by the aggregator when a trainer in another process offers a gradient (global step, shard); true makes it act as if the offer never came (a message lost on the wire).</summary>
    public Func<long, int, bool>? LoseOffer { get; init; }

    /// <summary>When set, the aggregator records every reduced shard (id and samples) here.</summary>
    public BatchLedger? Ledger { get; init; }
}
