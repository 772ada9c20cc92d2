using System.Threading.Channels;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>
/// The bounded stream from one data loader to one trainer, and the loader's cursor. It outlives both actors, so a
/// restarted loader continues where the failed one stopped and a restarted trainer reads on. The loader streams its
/// trainer's home shards (<see cref="ShardPlan.Home"/>) in stream order (<see cref="ShardPlan.Key"/>); a shard computed
/// elsewhere is rebuilt from (seed, epoch, step, shard) by whoever computes it, never stored.
/// </summary>
public sealed class BatchLane
{
    private long _nextKey;
    private long _lastWritten = -1;
    private volatile bool _loaderLate;

    public BatchLane(int trainer, ShardPlan plan, BatchSampler sampler, long fromStep, long toStep, int capacity, CancellationToken stopping)
    {
        Trainer = trainer;
        Plan = plan;
        Sampler = sampler;
        ToStep = toStep;
        Stopping = stopping;
        Shards = plan.HomeShards(trainer);
        Channel = System.Threading.Channels.Channel.CreateBounded<ShardBatch>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _nextKey = plan.Key(fromStep, Shards.Length > 0 ? Shards[0] : 0);
    }

    public int Trainer { get; }
    public ShardPlan Plan { get; }
    public BatchSampler Sampler { get; }
    public long ToStep { get; }
    public int[] Shards { get; }
    public Channel<ShardBatch> Channel { get; }
    public CancellationToken Stopping { get; }

    public long Key(ShardBatch b) => Plan.Key(Sampler.GlobalStep(b.Id), b.Id.Shard);

    public bool Owns(int shard) => Plan.Home(shard) == Trainer;

    /// <summary>Set by the trainer when the loader missed a deadline: it then builds batches itself until the loader catches up.</summary>
    public bool LoaderLate { get => _loaderLate; set => _loaderLate = value; }

    /// <summary>Key of the last batch the loader finished writing (-1 before the first).</summary>
    public long LastWritten => Volatile.Read(ref _lastWritten);

    /// <summary>The next shard the loader must produce, or null when its part of the run is done.</summary>
    public ShardId? Next()
    {
        long key = Volatile.Read(ref _nextKey);
        long step = Plan.StepOf(key);
        if (step >= ToStep || Shards.Length == 0) return null;
        return Sampler.Id(step, Plan.ShardOf(key));
    }

    /// <summary>Called by the loader after a batch is in the channel: advances the cursor to its next shard.</summary>
    public void Written(ShardId id)
    {
        long step = Sampler.GlobalStep(id);
        Volatile.Write(ref _lastWritten, Plan.Key(step, id.Shard));
        int i = Array.IndexOf(Shards, id.Shard);
        Volatile.Write(ref _nextKey, i + 1 < Shards.Length ? Plan.Key(step, Shards[i + 1]) : Plan.Key(step + 1, Shards[0]));
    }
}
