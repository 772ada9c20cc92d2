using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Training;

/// <summary>
/// The plain loop that the actor system must reproduce bit for bit (llm.c's main, in one place):
/// for each step, every shard in shard order on one worker (next batch, forward, backward), then the
/// optimizer step (reduce in shard order, clip, Adam). Tests use it as the oracle of determinism.
/// </summary>
public static class ReferenceTraining
{
    public static IReadOnlyList<StepStats> Run(OptimizerStep optimizer, BatchSampler sampler, IShardWorker worker, long fromStep, long toStep)
    {
        var stats = new List<StepStats>();
        var buffers = new float[sampler.Shards][];
        var shards = new ShardGradient[sampler.Shards];
        for (long s = fromStep; s < toStep; s++)
        {
            for (int k = 0; k < shards.Length; k++)
            {
                buffers[k] ??= new float[optimizer.Parameters.Length];
                shards[k] = worker.Compute(sampler.Shard(sampler.Id(s, k)), buffers[k]);
            }
            stats.Add(optimizer.Apply(shards, s));
        }
        return stats;
    }
}
