using System.Diagnostics;
using ImageGpt.Actors.Runtime;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>What a trainer needs; shared by all its incarnations.</summary>
public sealed record TrainerSetup(
    int Id, BatchLane Lane, ParameterSlab Parameters, int BatchCapacity, int Threads, ulong MaskSeed,
    GradientPool Pool, IActorRef Aggregator, LiveProgress Progress, TrainingHooks? Hooks,
    ComputeBackend Backend = ComputeBackend.Nn, ComputeDevice Device = default);

/// <summary>
/// One device: a model replica (reading the aggregator's parameters, which change only between
/// steps) and a dedicated compute thread. For each <see cref="ComputeShards"/> it takes the shard's
/// batch from its lane (or rebuilds it when the shard is not in its stream), runs forward and
/// backward, and hands the gradient to the aggregator. It announces every incarnation with
/// <see cref="TrainerReady"/>, so the aggregator re-sends what a failed incarnation left undone.
/// </summary>
public sealed class TrainerActor : ReceiveActor
{
    private readonly TrainerSetup _s;
    private DeviceThread? _device;
    private IShardWorker? _worker;

    public TrainerActor(TrainerSetup setup)
    {
        _s = setup;
        ReceiveAsync<ComputeShards>(Compute);
    }

    protected override void PreStart()
    {
        _device = new DeviceThread($"trainer-{_s.Id}");
        _worker = ShardWorkers.Create(_s.Backend, _s.Device, _s.Id, _s.Parameters, _s.BatchCapacity, _s.Threads, _s.MaskSeed);
        _s.Aggregator.Tell(new TrainerReady(_s.Id), Self);
    }

    protected override void PostStop()
    {
        // Released on the device thread, after any shard still running there (a torch worker holds native tensors).
        var worker = _worker;
        _device?.Run(() => { worker?.Dispose(); return 0; });
        _device?.Dispose();
    }

    private async Task Compute(ComputeShards m)
    {
        foreach (int shard in m.Shards)
        {
            // A request queued while this trainer was slow may be for a step already reduced without it.
            if (m.Step < Volatile.Read(ref _s.Progress.CurrentStep)) return;
            var wait = Stopwatch.StartNew();
            var batch = await Batch(m.Step, new ShardId(m.Epoch, m.StepInEpoch, shard));
            double waited = wait.Elapsed.TotalSeconds;
            var buffer = _s.Pool.Rent();
            var compute = Stopwatch.StartNew();
            var worker = _worker!;
            var hook = _s.Hooks?.BeforeShard;
            long step = m.Step;
            var gradient = await _device!.Run(() =>
            {
                hook?.Invoke(_s.Id, step, shard);
                return worker.Compute(batch, buffer);
            });
            _s.Aggregator.Tell(new ShardDone(m.Step, shard, gradient, _s.Id, compute.Elapsed.TotalSeconds, waited), Self);
        }
    }

    /// <summary>
    /// The lane delivers its shards in order. Older batches in front (of steps already completed
    /// elsewhere) are dropped; a shard that is not ours, or that the loader already wrote but an
    /// earlier incarnation consumed, is rebuilt from its id.
    /// </summary>
    private async ValueTask<ShardBatch> Batch(long step, ShardId id)
    {
        var lane = _s.Lane;
        var reader = lane.Channel.Reader;
        long want = lane.Key(step, id.Shard);
        while (true)
        {
            if (reader.TryPeek(out var head))
            {
                long key = lane.Key(head);
                if (key < want) { reader.TryRead(out _); continue; }
                if (key == want) { reader.TryRead(out _); return head; }
                return lane.Sampler.Shard(id);
            }
            if (!lane.Owns(id.Shard) || lane.LastWritten >= want)
            {
                if (reader.TryPeek(out _)) continue;
                return lane.Sampler.Shard(id);
            }
            try
            {
                if (!await reader.WaitToReadAsync(lane.Stopping)) return lane.Sampler.Shard(id);
            }
            catch (OperationCanceledException)
            {
                return lane.Sampler.Shard(id);
            }
        }
    }
}
