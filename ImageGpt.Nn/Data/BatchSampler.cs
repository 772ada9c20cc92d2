using ImageGpt.Nn.Model;
namespace ImageGpt.Nn.Data;

/// <summary>A data set turned into palette tokens once: [N, T] tokens in raster order and N labels.</summary>
public sealed class TokenSet : ISampleSource
{
    public ushort[] Tokens { get; }
    public int[] Labels { get; }
    public int Count { get; }
    public int T { get; }

    public TokenSet(ushort[] tokens, int[] labels, int t)
    {
        if (tokens.Length != labels.Length * t) throw new ArgumentException($"{tokens.Length} tokens for {labels.Length} labels of T={t}");
        (Tokens, Labels, Count, T) = (tokens, labels, labels.Length, t);
    }

    /// <summary>Encodes every image of <paramref name="set"/> with <paramref name="palette"/> (row-major, so raster order).</summary>
    public static TokenSet Encode(DataSet set, Palette.Palette palette)
    {
        if (palette.Channels != set.Channels) throw new ArgumentException($"palette has {palette.Channels} channels, data set {set.Channels}");
        var tokens = new ushort[set.Count * set.PixelsPerImage];
        palette.Encode(set.Images, tokens);
        return new TokenSet(tokens, set.Labels, set.PixelsPerImage);
    }

    public ReadOnlySpan<ushort> Sequence(int i) => Tokens.AsSpan(i * T, T);

    public int Read(int index, Span<ushort> tokens)
    {
        Sequence(index).CopyTo(tokens);
        return Labels[index];
    }
}

/// <summary>Which shard: the unit of work and of determinism.</summary>
public readonly record struct ShardId(long Epoch, int Step, int Shard);

/// <summary>One shard's content: b sequences of T tokens, their labels, and which samples they are.</summary>
public sealed record ShardBatch(ShardId Id, ushort[] Tokens, int[] Labels, int[] SampleIndices, int T)
{
    public int B => Labels.Length;
}

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
}

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
