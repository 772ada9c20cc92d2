using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.DataPlane;

/// <summary>A data node's batches: the run's <see cref="BatchSampler"/>, the same function a local loader calls.</summary>
public sealed class SamplerBatchSource(BatchSampler sampler) : IBatchSource
{
    public int ShardsPerStep => sampler.Shards;

    public ShardBatch Make(long step, int shard) => sampler.Shard(sampler.Id(step, shard));
}
