using System.Diagnostics;
using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>What a trainer needs; shared by all its incarnations.</summary>
/// <param name="Deadline">How long the trainer waits for its loader before it builds a batch itself.</param>
public sealed record TrainerSetup(
    int Id, BatchLane Lane, ParameterSlab Parameters, int BatchCapacity, int Threads, ulong MaskSeed,
    GradientPool Pool, IActorRef Aggregator, LiveProgress Progress, TimeSpan Deadline, ITrainingObserver Observer, TrainingHooks? Hooks,
    ComputeBackend Backend = ComputeBackend.Nn, ComputeDevice Device = default);

/// <summary>
/// One device: a model replica (reading the aggregator's parameters, which change only between steps) and a dedicated
/// compute thread, so kernels never run on Akka's dispatcher. For each <see cref="ComputeShards"/> it takes the shard's
/// batch from its lane (or builds it when the shard is not in its stream, or when its loader has not delivered within
/// the deadline), runs forward and backward, and hands the gradient to the aggregator. It announces every incarnation
/// with <see cref="TrainerReady"/>, so the aggregator re-sends what a failed incarnation left undone.
/// </summary>
public sealed class TrainerActor : MonitoredActor
{
    private readonly TrainerSetup _s;
    private readonly IScheduler _scheduler;
    private DeviceThread? _device;
    private IShardWorker? _worker;

    public TrainerActor(TrainerSetup setup)
    {
        _s = setup;
        _scheduler = Context.System.Scheduler;
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
            var batch = await Batch(m.Step, shard);
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
            _s.Hooks?.AfterShard?.Invoke(_s.Id, m.Step, shard);
        }
    }

    /// <summary>
    /// The lane delivers its shards in order. Older batches in front (of steps completed elsewhere) are dropped; a
    /// shard that is not ours, or that an earlier incarnation already consumed, is built from its id. When the loader
    /// has not delivered within the deadline (it keeps failing, or hangs), the trainer builds the batch itself and
    /// keeps doing so, without waiting, until the loader catches up.
    /// </summary>
    private async ValueTask<ShardBatch> Batch(long step, int shard)
    {
        var lane = _s.Lane;
        var reader = lane.Channel.Reader;
        ShardId id = lane.Sampler.Id(step, shard);
        long want = lane.Plan.Key(step, shard);
        while (true)
        {
            if (reader.TryPeek(out var head))
            {
                long key = lane.Key(head);
                if (key < want) { reader.TryRead(out _); continue; }
                if (key == want)
                {
                    reader.TryRead(out _);
                    lane.LoaderLate = false;
                    return head;
                }
                return lane.Sampler.Shard(id);
            }
            if (!lane.Owns(shard) || lane.LastWritten >= want || lane.LoaderLate) return lane.Sampler.Shard(id);
            _s.Hooks?.BeforeLaneWait?.Invoke(_s.Id, step, shard);
            // The deadline is a timer of Akka's scheduler (virtual time in tests), not a wall-clock token. Its action
            // only completes a task of this wait, so a late or repeated firing is harmless.
            var late = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(lane.Stopping);
            ICancelable timer = _scheduler.Advanced.ScheduleOnceCancelable(_s.Deadline, () => late.TrySetResult());
            try
            {
                var ready = reader.WaitToReadAsync(waiting.Token).AsTask();
                if (await Task.WhenAny(ready, late.Task) == late.Task && !ready.IsCompleted)
                {
                    await waiting.CancelAsync();
                    if (!lane.Stopping.IsCancellationRequested)
                    {
                        lane.LoaderLate = true;
                        _s.Observer.Warning($"trainer-{_s.Id}: its loader delivered nothing within {_s.Deadline.TotalSeconds:0.#} s at step {step}; building its batches itself until the loader catches up");
                    }
                    return lane.Sampler.Shard(id);
                }
                if (!await ready) return lane.Sampler.Shard(id);
            }
            catch (OperationCanceledException)
            {
                return lane.Sampler.Shard(id);
            }
            finally
            {
                timer.Cancel();
            }
        }
    }
}
