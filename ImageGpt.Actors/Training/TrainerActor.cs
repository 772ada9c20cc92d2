using System.Diagnostics;
using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>What a trainer needs; shared by all its incarnations.</summary>
/// <param name="Local">The trainer's number on its node (hooks and thread names).</param>
/// <param name="Name">Its name in the run (unique across nodes).</param>
/// <param name="Coordinator">Where the trainer announces its incarnations (the run, which passes it on to the aggregator).</param>
/// <param name="Deadline">How long the trainer waits for its loader before it builds a batch itself.</param>
/// <param name="Source">Brings <c>Parameters</c> to the version of a step before the trainer computes it.</param>
public sealed record TrainerSetup(
    int Local, string Name, BatchLane Lane, ParameterSlab Parameters, IParameterSource Source, int BatchCapacity, int Threads, ulong MaskSeed,
    GradientPool Pool, IActorRef Coordinator, LiveProgress Progress, TimeSpan Deadline, ITrainingObserver Observer, TrainingHooks? Hooks,
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

    /// <summary>Gradients offered to an aggregator in another process, by offer id, until it has fetched them, and their offers.</summary>
    private readonly Dictionary<string, (float[] Buffer, ShardOffered Offer)> _offered = [];
    private IActorRef _offeredTo = ActorRefs.Nobody;

    public TrainerActor(TrainerSetup setup)
    {
        _s = setup;
        _scheduler = Context.System.Scheduler;
        ReceiveAsync<ComputeShards>(Compute);
        ReceiveAsync<GradientFetched>(async m =>
        {
            if (!_offered.Remove(m.Id, out var offered)) return;
            await Cluster.NodeDataPlane.Get(Context.System).Server.WithdrawAsync(m.Id);
            _s.Pool.Return(offered.Buffer);
        });
    }

    protected override void PreStart()
    {
        _device = new DeviceThread($"trainer-{_s.Local}");
        _worker = ShardWorkers.Create(_s.Backend, _s.Device, _s.Local, _s.Parameters, _s.BatchCapacity, _s.Threads, _s.MaskSeed);
        _s.Coordinator.Tell(new TrainerReady(_s.Name), Self);
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
        // The aggregator asks; its answer goes straight back to it, by hand-over in its process, over the data plane elsewhere.
        IActorRef aggregator = Sender;
        bool remote = !aggregator.Path.Address.HasLocalScope;
        // Offers to an aggregator that is gone (the run's root moved) will never be fetched: their buffers are reused.
        if (!aggregator.Equals(_offeredTo))
        {
            await WithdrawOffersAsync();
            _offeredTo = aggregator;
        }
        // On a node without the aggregator this is the only news of the run's step (stale requests are skipped below).
        InterlockedMax(ref _s.Progress.CurrentStep, m.Step);
        try { await _s.Source.ReadyAsync(m.Step, m.Parameters, _s.Lane.Stopping); }
        catch (DataPlane.DataPlaneException e)
        {
            // The step ended while its parameters were fetched (they are withdrawn then), or the aggregator's node is gone:
            // either way nothing is owed; a live aggregator asks again after its deadline, a new one from its first step.
            _s.Observer.Warning($"{_s.Name}: the parameters of step {m.Step} could not be fetched ({e.Message}); skipping its shards");
            return;
        }
        foreach (int shard in m.Shards)
        {
            // A request queued while this trainer was slow may be for a step already reduced without it.
            if (m.Step < Volatile.Read(ref _s.Progress.CurrentStep)) return;
            string id = $"grad/{_s.Name}/{m.Step}/{shard}";
            // Asked again for a gradient still on offer: the offer (or the request before it) was lost, or is late.
            if (remote && _offered.TryGetValue(id, out var pending))
            {
                aggregator.Tell(pending.Offer, Self);
                continue;
            }
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
                hook?.Invoke(_s.Local, step, shard);
                return worker.Compute(batch, buffer);
            });
            if (remote)
            {
                var ticket = Cluster.NodeDataPlane.Get(Context.System).Server.Offer(id, gradient.Gradients);
                var offer = new ShardOffered(m.Step, shard, ticket, gradient.Loss, gradient.Images, _s.Name, compute.Elapsed.TotalSeconds, waited);
                _offered[id] = (gradient.Gradients, offer);
                aggregator.Tell(offer, Self);
            }
            else aggregator.Tell(new ShardDone(m.Step, shard, gradient, _s.Name, compute.Elapsed.TotalSeconds, waited), Self);
            _s.Hooks?.AfterShard?.Invoke(_s.Local, m.Step, shard);
        }
    }

    private async Task WithdrawOffersAsync()
    {
        if (_offered.Count == 0) return;
        var plane = Cluster.NodeDataPlane.Get(Context.System).Server;
        foreach (var (id, (buffer, _)) in _offered)
        {
            await plane.WithdrawAsync(id);
            _s.Pool.Return(buffer);
        }
        _offered.Clear();
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (long seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
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
        long want = lane.Key(step, shard);
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
                return await lane.Source.OneAsync(id, step, lane.Stopping);
            }
            if (!lane.Owns(shard) || lane.LastWritten >= want || lane.LoaderLate) return await lane.Source.OneAsync(id, step, lane.Stopping);
            // The deadline is a timer of Akka's scheduler (virtual time in tests), not a wall-clock token. Its action
            // only completes a task of this wait, so a late or repeated firing is harmless.
            var late = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(lane.Stopping);
            ICancelable timer = _scheduler.Advanced.ScheduleOnceCancelable(_s.Deadline, () => late.TrySetResult());
            // After the timer is armed: a virtual-time test that advances the clock from this hook then always fires it.
            _s.Hooks?.BeforeLaneWait?.Invoke(_s.Local, step, shard);
            try
            {
                var ready = reader.WaitToReadAsync(waiting.Token).AsTask();
                if (await Task.WhenAny(ready, late.Task) == late.Task && !ready.IsCompleted)
                {
                    await waiting.CancelAsync();
                    if (!lane.Stopping.IsCancellationRequested)
                    {
                        lane.LoaderLate = true;
                        _s.Observer.Warning($"{_s.Name}: its loader delivered nothing within {_s.Deadline.TotalSeconds:0.#} s at step {step}; building its batches itself until the loader catches up");
                    }
                    return await lane.Source.OneAsync(id, step, lane.Stopping);
                }
                if (!await ready) return await lane.Source.OneAsync(id, step, lane.Stopping);
            }
            catch (OperationCanceledException)
            {
                // The node stops: the shard is still owed to the step in flight, and a data node's answer is bounded by its I/O timeout.
                return await lane.Source.OneAsync(id, step, CancellationToken.None);
            }
            finally
            {
                timer.Cancel();
            }
        }
    }
}
