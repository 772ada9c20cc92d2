namespace ImageGpt.Nn.Data;

/// <summary>
/// Records which shards were consumed at each step and which samples they carried, so that
/// coverage (every sample used once per epoch) and completeness (every shard of a step reduced)
/// can be checked.
/// </summary>
public sealed class BatchLedger
{
    private readonly SortedDictionary<(long Epoch, int Step), SortedDictionary<int, int[]>> _steps = new();
    private readonly Lock _lock = new();

    /// <summary>Records a shard; recording the same shard twice is an error (a shard is reduced once).</summary>
    public void Record(ShardId id, ReadOnlySpan<int> sampleIndices)
    {
        lock (_lock)
        {
            if (!_steps.TryGetValue((id.Epoch, id.Step), out var shards)) _steps[(id.Epoch, id.Step)] = shards = new();
            if (!shards.TryAdd(id.Shard, sampleIndices.ToArray()))
                throw new InvalidOperationException($"shard {id} recorded twice");
        }
    }

    public void Record(ShardBatch batch) => Record(batch.Id, batch.SampleIndices);

    /// <summary>Shard ids recorded for a step, ascending.</summary>
    public IReadOnlyList<int> ShardsAt(long epoch, int step)
    {
        lock (_lock) return _steps.TryGetValue((epoch, step), out var s) ? s.Keys.ToArray() : [];
    }

    public bool IsComplete(long epoch, int step, int shardCount)
    {
        var s = ShardsAt(epoch, step);
        return s.Count == shardCount && s[^1] == shardCount - 1;
    }

    /// <summary>How often each sample of the data set was used in the epoch.</summary>
    public int[] UseCounts(long epoch, int sampleCount)
    {
        var counts = new int[sampleCount];
        lock (_lock)
        {
            foreach (var ((e, _), shards) in _steps)
                if (e == epoch)
                    foreach (var idx in shards.Values)
                        foreach (var i in idx) counts[i]++;
        }
        return counts;
    }
}
