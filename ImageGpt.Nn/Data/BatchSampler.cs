using ImageGpt.Nn.Model;
namespace ImageGpt.Nn.Data;

/// <summary>
/// Deterministic batches. Each epoch is a permutation of the samples seeded by (seed, epoch); step s
/// takes permutation entries [s*batch, (s+1)*batch), split into S contiguous shards whose sizes differ
/// by at most one. A shard's content is a pure function of (seed, epoch, step, shard), so a lost shard
/// is rebuilt, never stored. The last incomplete batch of an epoch (Count mod batch samples) is
/// dropped, so every step has the same size and the same shard sizes.
/// </summary>
public sealed class BatchSampler
{
    public ISampleSource Data { get; }
    public int BatchSize { get; }
    public int Shards { get; }
    public ulong Seed { get; }
    public int StepsPerEpoch { get; }
    /// <summary>Samples left out of every epoch because they do not fill a batch.</summary>
    public int DroppedPerEpoch { get; }

    private long _cachedEpoch = -1;
    private int[]? _cachedPermutation;
    private readonly Lock _lock = new();

    public BatchSampler(ISampleSource data, int batchSize, int shards, ulong seed)
    {
        if (batchSize < 1) throw new UserError($"batch size {batchSize} must be positive. HINT: set a batch size >= 1.");
        if (shards < 1 || shards > batchSize) throw new UserError($"{shards} shards for batch {batchSize}: each shard needs at least one sample. HINT: use 1..{batchSize} shards.");
        if (data.Count < batchSize) throw new UserError($"batch size {batchSize} exceeds the {data.Count} training samples. HINT: use a batch of at most {data.Count}.");
        (Data, BatchSize, Shards, Seed) = (data, batchSize, shards, seed);
        StepsPerEpoch = data.Count / batchSize;
        DroppedPerEpoch = data.Count % batchSize;
    }

    /// <summary>The sample order of an epoch.</summary>
    public int[] Permutation(long epoch)
    {
        lock (_lock)
        {
            if (_cachedEpoch != epoch || _cachedPermutation is null)
            {
                _cachedPermutation = SeededRandom.Derive(Seed, (ulong)epoch).Permutation(Data.Count);
                _cachedEpoch = epoch;
            }
            return _cachedPermutation;
        }
    }

    /// <summary>Start and length of a shard inside its step's slice.</summary>
    public (int Start, int Length) ShardRange(int shard)
    {
        if ((uint)shard >= (uint)Shards) throw new ArgumentOutOfRangeException(nameof(shard));
        var start = (int)((long)shard * BatchSize / Shards);
        var end = (int)((long)(shard + 1) * BatchSize / Shards);
        return (start, end - start);
    }

    public int[] SampleIndices(ShardId id)
    {
        if (id.Epoch < 0) throw new ArgumentOutOfRangeException(nameof(id), "negative epoch");
        if ((uint)id.Step >= (uint)StepsPerEpoch) throw new ArgumentOutOfRangeException(nameof(id), $"step {id.Step} outside 0..{StepsPerEpoch - 1}");
        var (start, length) = ShardRange(id.Shard);
        return Permutation(id.Epoch).AsSpan(id.Step * BatchSize + start, length).ToArray();
    }

    /// <summary>Builds a shard: tokens [b, T] row-major and labels [b].</summary>
    public ShardBatch Shard(ShardId id)
    {
        var idx = SampleIndices(id);
        var T = Data.T;
        var tokens = new ushort[idx.Length * T];
        var labels = new int[idx.Length];
        for (var j = 0; j < idx.Length; j++) labels[j] = Data.Read(idx[j], tokens.AsSpan(j * T, T));
        return new ShardBatch(id, tokens, labels, idx, T);
    }

    /// <summary>Every shard of a step, in shard order.</summary>
    public IEnumerable<ShardId> ShardsOf(long epoch, int step) =>
        Enumerable.Range(0, Shards).Select(s => new ShardId(epoch, step, s));

    /// <summary>The (epoch, step) of a global step counter.</summary>
    public (long Epoch, int Step) Cursor(long globalStep) => (globalStep / StepsPerEpoch, (int)(globalStep % StepsPerEpoch));

    /// <summary>Shard <paramref name="shard"/> of global step <paramref name="globalStep"/>.</summary>
    public ShardId Id(long globalStep, int shard) => new(globalStep / StepsPerEpoch, (int)(globalStep % StepsPerEpoch), shard);

    /// <summary>The global step counter of a shard's step (the inverse of <see cref="Cursor"/>).</summary>
    public long GlobalStep(ShardId id) => id.Epoch * StepsPerEpoch + id.Step;
}
