using System.Threading.Channels;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>
/// The bounded stream from one data loader to one trainer, and the loader's cursor. It outlives both actors, so a
/// restarted loader continues where the failed one stopped and a restarted trainer reads on. The loader streams its
/// trainer's home shards (<see cref="ShardPlan.Home"/>) in stream order (<see cref="ShardPlan.Key"/>); when the run's
/// trainers change, the aggregator's <see cref="PlanChanged"/> moves the lane to the new home shards from a step on
/// (<see cref="Replan"/>). A shard computed elsewhere is rebuilt from (seed, epoch, step, shard) by whoever computes it.
/// <see cref="Source"/> makes the batches: here from the data set, or on a data node that streams them.
/// </summary>
public sealed class BatchLane
{
    private readonly Lock _lock = new();
    private ShardPlan? _plan;
    private int _index;
    private int[] _shards = [];
    private long _nextKey;
    private long _lastWritten = -1;
    private volatile bool _loaderLate;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BatchLane(int trainer, BatchSampler sampler, ILaneSource source, long toStep, int capacity, CancellationToken stopping)
    {
        Trainer = trainer;
        Sampler = sampler;
        Source = source;
        ToStep = toStep;
        Stopping = stopping;
        Channel = System.Threading.Channels.Channel.CreateBounded<ShardBatch>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>The node-local number of the lane's trainer.</summary>
    public int Trainer { get; }
    /// <summary>Names the shards of a step (epoch, step in epoch); the batches themselves come from <see cref="Source"/>.</summary>
    public BatchSampler Sampler { get; }
    public ILaneSource Source { get; }
    public long ToStep { get; }
    public Channel<ShardBatch> Channel { get; }
    public CancellationToken Stopping { get; }

    /// <summary>From <paramref name="fromStep"/> on, this lane's trainer is number <paramref name="index"/> of <paramref name="trainers"/>.</summary>
    public void Replan(long fromStep, int index, int trainers)
    {
        lock (_lock)
        {
            var plan = new ShardPlan(Sampler.Shards, trainers);
            (_plan, _index, _shards) = (plan, index, plan.HomeShards(index));
            // Batches already streamed stay (the trainer drops or skips them by key); production continues from the
            // new plan's first home shard at or after where the loader was.
            long from = _shards.Length > 0 ? plan.Key(fromStep, _shards[0]) : long.MaxValue;
            _nextKey = Math.Max(_nextKey, from);
            while (_nextKey != long.MaxValue && !IsHome(plan.ShardOf(_nextKey))) _nextKey++;
            var changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
        }
    }

    /// <summary>Completes at the next <see cref="Replan"/> (a loader with nothing to do waits for it).</summary>
    public Task Changed
    {
        get { lock (_lock) return _changed.Task; }
    }

    public long Key(ShardBatch b) => Key(Sampler.GlobalStep(b.Id), b.Id.Shard);

    public long Key(long step, int shard) => step * Sampler.Shards + shard;

    /// <summary>Whether the lane streams <paramref name="shard"/> under its current plan.</summary>
    public bool Owns(int shard)
    {
        lock (_lock) return _plan is not null && IsHome(shard);
    }

    /// <summary>The shards of each step the lane streams under its current plan, ascending.</summary>
    public int[] HomeShards
    {
        get { lock (_lock) return _shards; }
    }

    private bool IsHome(int shard) => _plan!.Home(shard) == _index;

    /// <summary>Set by the trainer when the loader missed a deadline: it then builds batches itself until the loader catches up.</summary>
    public bool LoaderLate { get => _loaderLate; set => _loaderLate = value; }

    /// <summary>Key of the last batch the loader finished writing (-1 before the first).</summary>
    public long LastWritten => Volatile.Read(ref _lastWritten);

    /// <summary>The next shard the loader must produce, or null when it has none (no plan yet, no home shard, or the run's end).</summary>
    public ShardId? Next()
    {
        lock (_lock)
        {
            if (_plan is null || _shards.Length == 0 || _nextKey == long.MaxValue) return null;
            long step = _plan.StepOf(_nextKey);
            return step >= ToStep ? null : Sampler.Id(step, _plan.ShardOf(_nextKey));
        }
    }

    /// <summary>Called by the loader after a batch is in the channel: advances the cursor to its next home shard.</summary>
    public void Written(ShardId id)
    {
        lock (_lock)
        {
            long key = Key(Sampler.GlobalStep(id), id.Shard);
            Volatile.Write(ref _lastWritten, key);
            if (key != _nextKey || _plan is null) return;
            do _nextKey++; while (!IsHome(_plan.ShardOf(_nextKey)));
        }
    }
}
