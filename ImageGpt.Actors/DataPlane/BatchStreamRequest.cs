namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A lane of batches to stream from a data node: shards <paramref name="Shards"/> of every global step from
/// <paramref name="FromStep"/> up to (not including) <paramref name="ToStep"/>, in (step, shard) order, the order of
/// <c>ShardPlan.Key</c>. At most <paramref name="Prefetch"/> batches are ever sent and not yet read, as in a local
/// lane's bounded channel.
/// </summary>
/// <param name="ShardsPerStep">the run's <c>train.shards</c>; the data node refuses a lane that counts otherwise</param>
/// <param name="Shards">the lane's shards of each step, ascending (<c>ShardPlan.HomeShards</c>)</param>
public sealed record BatchStreamRequest(int ShardsPerStep, int[] Shards, long FromStep, long ToStep, int Prefetch)
{
    /// <summary>Position of the lane's first batch in the stream of all its batches from step 0 (what the wire counts in).</summary>
    internal long FirstOrdinal => FromStep * Shards.Length;

    internal long EndOrdinal => ToStep * Shards.Length;

    internal void Validate()
    {
        if (ShardsPerStep < 1) throw new ArgumentOutOfRangeException(nameof(ShardsPerStep), ShardsPerStep, "a step has at least one shard");
        if (Shards is null || Shards.Length == 0) throw new ArgumentException("a lane streams at least one shard of each step", nameof(Shards));
        for (int i = 0; i < Shards.Length; i++)
            if (Shards[i] < 0 || Shards[i] >= ShardsPerStep || (i > 0 && Shards[i] <= Shards[i - 1]))
                throw new ArgumentException($"lane shards [{string.Join(",", Shards)}] must ascend within 0..{ShardsPerStep - 1}", nameof(Shards));
        if (FromStep < 0 || ToStep < FromStep || ToStep > long.MaxValue / ShardsPerStep)
            throw new ArgumentOutOfRangeException(nameof(ToStep), $"steps {FromStep}..{ToStep} are not a range of steps");
        if (Prefetch < 1) throw new ArgumentOutOfRangeException(nameof(Prefetch), Prefetch, "prefetch must be at least 1");
    }
}
