namespace ImageGpt.Nn.Training;

/// <summary>
/// Who computes which shard of a step, in one place. Shard k's home is trainer k mod N: its loader streams it there
/// ahead of time. A trainer that missed a step deadline is suspect and gets no shards until it delivers again; its
/// home shards go round the healthy trainers. A shard still missing at a deadline moves one trainer further per
/// attempt. Shards are numbered within a step; <see cref="Key"/> numbers them across the run, the order in which a
/// lane streams them. None of this changes a result: the aggregator reduces shards in shard order whoever computed them.
/// </summary>
public sealed class ShardPlan
{
    public ShardPlan(int shards, int trainers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(trainers, 1);
        Shards = shards;
        Trainers = trainers;
    }

    public int Shards { get; }
    public int Trainers { get; }

    /// <summary>The trainer whose loader streams shard <paramref name="shard"/> of every step.</summary>
    public int Home(int shard) => shard % Trainers;

    /// <summary>The shards trainer <paramref name="trainer"/>'s loader streams, in order.</summary>
    public int[] HomeShards(int trainer) => Enumerable.Range(0, Shards).Where(k => Home(k) == trainer).ToArray();

    /// <summary>Fills <paramref name="owner"/>[k] with the trainer that computes shard k this step.</summary>
    public void Assign(IReadOnlySet<int> suspects, Span<int> owner)
    {
        if (owner.Length != Shards) throw new ArgumentException($"owner has {owner.Length} entries for {Shards} shards", nameof(owner));
        int[] healthy = Enumerable.Range(0, Trainers).Where(t => !suspects.Contains(t)).ToArray();
        for (int k = 0; k < Shards; k++)
            owner[k] = healthy.Length == 0 || !suspects.Contains(Home(k)) ? Home(k) : healthy[k % healthy.Length];
    }

    /// <summary>The shards <paramref name="owner"/> gives trainer <paramref name="trainer"/>, in order.</summary>
    public static int[] ShardsOf(ReadOnlySpan<int> owner, int trainer)
    {
        var mine = new List<int>();
        for (int k = 0; k < owner.Length; k++) if (owner[k] == trainer) mine.Add(k);
        return [.. mine];
    }

    /// <summary>The trainer that recomputes a shard of trainer <paramref name="from"/> after <paramref name="attempt"/> missed deadlines (never <paramref name="from"/> itself when there are two or more).</summary>
    public int Retry(int from, int attempt)
    {
        int to = (from + attempt) % Trainers;
        return to == from && Trainers > 1 ? (to + 1) % Trainers : to;
    }

    /// <summary>Position of shard <paramref name="shard"/> of global step <paramref name="step"/> in the run's stream of shards.</summary>
    public long Key(long step, int shard) => step * Shards + shard;

    /// <summary>The global step of a stream position.</summary>
    public long StepOf(long key) => key / Shards;

    /// <summary>The shard of a stream position.</summary>
    public int ShardOf(long key) => (int)(key % Shards);
}
