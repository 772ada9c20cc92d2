using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.Training;

/// <summary>A node with the data set: the loader gathers, resizes and quantizes each batch itself, with the run's sampler.</summary>
public sealed class LocalLaneSource(BatchSampler sampler) : ILaneSource
{
    public ValueTask<ShardBatch> NextAsync(ShardId id, long step, int[] home, CancellationToken ct) => ValueTask.FromResult(sampler.Shard(id));

    public ValueTask<ShardBatch> OneAsync(ShardId id, long step, CancellationToken ct) => ValueTask.FromResult(sampler.Shard(id));
}
