using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Where a lane's batches are made: from this node's copy of the data set (<see cref="LocalLaneSource"/>), or on a data
/// node and streamed here (<see cref="DataPlane.StreamedLaneSource"/>). Either way a batch is the pure function of
/// (seed, epoch, step, shard) that <see cref="BatchSampler.Shard"/> computes, so the weights do not depend on which.
/// </summary>
public interface ILaneSource
{
    /// <summary>
    /// The loader's next batch: shard <paramref name="id"/> (of global step <paramref name="step"/>), the lane's home shards
    /// being <paramref name="home"/> now. The loader asks in lane order; one call at a time.
    /// </summary>
    ValueTask<ShardBatch> NextAsync(ShardId id, long step, int[] home, CancellationToken ct);

    /// <summary>One batch on its own, for the trainer: a shard that is not in its lane's stream, or one its loader is late with.</summary>
    ValueTask<ShardBatch> OneAsync(ShardId id, long step, CancellationToken ct);
}
