using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>What a data node's server streams: shard batches, made on request from the run's deterministic sampler.</summary>
public interface IBatchSource
{
    /// <summary>Shards per step of the run (<c>train.shards</c>); a subscriber that counts otherwise is refused.</summary>
    int ShardsPerStep { get; }

    /// <summary>Shard <paramref name="shard"/> of global step <paramref name="step"/>; called from several streams at once.</summary>
    ShardBatch Make(long step, int shard);
}
