using System.Threading.Channels;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.Training;

/// <summary>
/// The bounded stream from one data loader to one trainer, and the loader's cursor. It outlives both
/// actors, so a restarted loader continues where the failed one stopped and a restarted trainer reads
/// on. Shards are assigned statically (shard k to trainer k mod N); a shard recomputed elsewhere is
/// rebuilt from (seed, epoch, step, shard) by whoever computes it, never stored.
/// </summary>
public sealed class BatchLane
{
    private long _nextKey;
    private long _lastWritten = -1;

    public BatchLane(int trainer, int trainers, BatchSampler sampler, long fromStep, long toStep, int capacity, CancellationToken stopping)
    {
        Trainer = trainer;
        Sampler = sampler;
        FromStep = fromStep;
        ToStep = toStep;
        Stopping = stopping;
        Shards = Enumerable.Range(0, sampler.Shards).Where(k => k % trainers == trainer).ToArray();
        Channel = System.Threading.Channels.Channel.CreateBounded<ShardBatch>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _nextKey = Key(fromStep, Shards.Length > 0 ? Shards[0] : 0);
    }

    public int Trainer { get; }
    public BatchSampler Sampler { get; }
    public long FromStep { get; }
    public long ToStep { get; }
    public int[] Shards { get; }
    public Channel<ShardBatch> Channel { get; }
    public CancellationToken Stopping { get; }

    /// <summary>Position of a shard in the run's stream: global step × S + shard.</summary>
    public long Key(long globalStep, int shard) => globalStep * Sampler.Shards + shard;

    public long Key(ShardBatch b) => Key(b.Id.Epoch * Sampler.StepsPerEpoch + b.Id.Step, b.Id.Shard);

    public bool Owns(int shard) => Array.IndexOf(Shards, shard) >= 0;

    /// <summary>Key of the last batch the loader finished writing (-1 before the first).</summary>
    public long LastWritten => Volatile.Read(ref _lastWritten);

    /// <summary>The next shard the loader must produce, or null when its part of the run is done.</summary>
    public ShardId? Next()
    {
        long key = Volatile.Read(ref _nextKey);
        long step = key / Sampler.Shards;
        if (step >= ToStep || Shards.Length == 0) return null;
        var (epoch, inEpoch) = Sampler.Cursor(step);
        return new ShardId(epoch, inEpoch, (int)(key % Sampler.Shards));
    }

    /// <summary>Called by the loader after a batch is in the channel: advances the cursor to its next shard.</summary>
    public void Written(ShardId id)
    {
        long step = id.Epoch * Sampler.StepsPerEpoch + id.Step;
        Volatile.Write(ref _lastWritten, Key(step, id.Shard));
        int i = Array.IndexOf(Shards, id.Shard);
        Volatile.Write(ref _nextKey, i + 1 < Shards.Length ? Key(step, Shards[i + 1]) : Key(step + 1, Shards[0]));
    }
}
