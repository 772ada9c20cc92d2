using System.Diagnostics;
using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>What the aggregator needs to drive the run from <c>StartStep</c> to <c>TotalSteps</c>.</summary>
public sealed record AggregatorSetup(
    OptimizerStep Optimizer, BatchSampler Sampler, ShardPlan Plan, long StartStep, long TotalSteps, bool CheckpointAtStart,
    int CheckpointEvery, TimeSpan Deadline, ulong DataSeed, GradientPool Pool, LiveProgress Progress, ITrainingObserver Observer,
    TrainingHooks? Hooks, int ThreadsPerTrainer = 1);

/// <summary>
/// Owns the parameters and the optimizer. Each step it asks every trainer for its shards (<see cref="ShardPlan"/>),
/// collects one gradient per shard (the first to arrive; duplicates from recomputation are dropped), reduces them in
/// shard order, clips, runs Adam, and starts the next step. A step has a deadline (a timer): shards still missing then
/// are recomputed by another trainer and the late trainer is suspect until it delivers again; a restarted trainer gets
/// its missing shards again. Every <c>CheckpointEvery</c> steps it hands a copy of the full state to the writer; at most
/// two copies are ever outstanding (one being written, one waiting): when the writer falls that far behind, the next
/// step waits for it, so a slow store holds training back instead of queueing copies or losing checkpoints.
/// </summary>
public sealed class ParameterAggregator : MonitoredActor, IWithTimers
{
    private const string DeadlineTimer = "deadline";

    private readonly AggregatorSetup _s;
    private readonly ShardGradient?[] _slots;
    private readonly int[] _owner;
    private readonly Dictionary<int, int> _incarnations = [];
    private readonly HashSet<int> _suspects = [];
    private readonly long _tokensPerStep;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly (double At, double Wait, double Busy)[] _window = new (double, double, double)[21];
    private double _wait, _busy;
    private int _recorded;
    private IActorRef[] _trainers = [];
    private IActorRef? _writer;
    private long _step;
    private bool _inFlight;
    private string? _stopReason;
    private bool _finishing;
    private int _outstanding;
    private bool _waitingForWriter;

    /// <summary>Checkpoint copies handed to the writer and not yet answered, at most (one written, one waiting).</summary>
    public const int MaxOutstandingCheckpoints = 2;

    public ITimerScheduler Timers { get; set; } = null!;

    public ParameterAggregator(AggregatorSetup setup)
    {
        _s = setup;
        _step = setup.StartStep;
        _slots = new ShardGradient?[setup.Plan.Shards];
        _owner = new int[setup.Plan.Shards];
        _tokensPerStep = (long)setup.Sampler.BatchSize * setup.Sampler.Data.T;

        Receive<StartTraining>(m =>
        {
            (_trainers, _writer) = (m.Trainers, m.Writer);
            Record(0, 0);
            if (setup.CheckpointAtStart && _step < setup.TotalSteps) Checkpoint(final: false);
            NextStep();
        });
        Receive<ShardDone>(OnShard);
        Receive<StepDeadline>(OnDeadline);
        Receive<TrainerReady>(OnTrainerReady);
        Receive<StopTraining>(m =>
        {
            _stopReason ??= m.Reason;
            if (!_inFlight && !_waitingForWriter) Finish();
        });
        Receive<CheckpointSaved>(m =>
        {
            _s.Observer.CheckpointSaved(m.Step, m.Event.Seconds, m.Final);
            if (m.Final) Context.Parent.Tell(new TrainingFinished(m.Step, _stopReason is not null));
            else WriterAnswered();
        });
        Receive<CheckpointFailed>(m =>
        {
            if (m.Final) Context.Parent.Tell(new TrainingFailed($"the final checkpoint (step {m.Step}) could not be written: {m.Error}"));
            else
            {
                _s.Observer.Warning($"checkpoint of step {m.Step} failed ({m.Error}); training goes on, the previous checkpoint is intact");
                WriterAnswered();
            }
        });
    }

    private void NextStep()
    {
        if (_finishing) return;
        if (_step >= _s.TotalSteps || _stopReason is not null) { Finish(); return; }
        Array.Clear(_slots);
        _inFlight = true;
        Volatile.Write(ref _s.Progress.CurrentStep, _step);
        _s.Plan.Assign(_suspects, _owner);
        for (int t = 0; t < _trainers.Length; t++)
        {
            int[] mine = ShardPlan.ShardsOf(_owner, t);
            if (mine.Length > 0) _trainers[t].Tell(new ComputeShards(_step, mine), Self);
        }
        Timers.StartSingleTimer(DeadlineTimer, new StepDeadline(_step, 1), Deadline());
    }

    /// <summary>The first step of a process also compiles the kernels and touches every buffer, so it gets longer.</summary>
    private TimeSpan Deadline() => _step == _s.StartStep ? TimeSpan.FromTicks(Math.Max(_s.Deadline.Ticks * 10, TimeSpan.FromSeconds(30).Ticks)) : _s.Deadline;

    private void OnShard(ShardDone m)
    {
        if (_suspects.Remove(m.Trainer)) _s.Observer.Warning($"trainer-{m.Trainer} delivers again; it gets its own shards from the next step on");
        if (m.Step != _step || !_inFlight || _slots[m.Shard] is not null)
        {
            _s.Pool.Return(m.Gradient.Gradients);
            return;
        }
        _slots[m.Shard] = m.Gradient;
        _wait += m.WaitSeconds;
        _busy += m.ComputeSeconds + m.WaitSeconds;
        foreach (var slot in _slots) if (slot is null) return;
        Apply();
    }

    private void Apply()
    {
        Timers.Cancel(DeadlineTimer);
        var shards = new ShardGradient[_slots.Length];
        for (int k = 0; k < shards.Length; k++) shards[k] = _slots[k]!.Value;
        var stats = _s.Optimizer.Apply(shards, _step);
        if (_s.Hooks?.Ledger is { } ledger)
            for (int k = 0; k < shards.Length; k++)
            {
                var id = _s.Sampler.Id(_step, k);
                ledger.Record(id, _s.Sampler.SampleIndices(id));
            }
        foreach (var g in shards) _s.Pool.Return(g.Gradients);
        Array.Clear(_slots);
        _inFlight = false;
        _step++;
        Report(stats);
        if (!float.IsFinite(stats.Loss))
        {
            Context.Parent.Tell(new TrainingFailed($"loss became {stats.Loss} at step {_step - 1}. HINT: lower train.lr or set train.clip; resume from the last checkpoint with --resume"));
            _finishing = true;
            return;
        }
        if (_step % _s.CheckpointEvery == 0 && _step < _s.TotalSteps && _stopReason is null)
        {
            if (_outstanding >= MaxOutstandingCheckpoints)
            {
                _waitingForWriter = true;
                return;
            }
            Checkpoint(final: false);
        }
        NextStep();
    }

    /// <summary>The writer answered a non-final checkpoint; a step held back for it goes on with its checkpoint.</summary>
    private void WriterAnswered()
    {
        _outstanding--;
        if (!_waitingForWriter) return;
        _waitingForWriter = false;
        if (_stopReason is null) Checkpoint(final: false);
        NextStep();
    }

    private void Report(StepStats stats)
    {
        double now = _clock.Elapsed.TotalSeconds;
        var oldest = Record(now, 1);
        double span = now - oldest.At;
        double rate = span > 0 ? oldest.Steps * _tokensPerStep / span : 0;
        double busy = _busy - oldest.Busy;
        double waitFraction = busy > 0 ? (_wait - oldest.Wait) / busy : 0;
        double busyFraction = span > 0 ? busy / (span * _trainers.Length) : 0;
        var report = new StepReport(_step, _s.TotalSteps, _s.Sampler.Cursor(_step - 1).Epoch, stats.Loss, stats.GradNorm, stats.Lr,
            rate, waitFraction, busyFraction, now, Mfu.Of(_s.Optimizer.Parameters.Config, rate, Math.Max(1, _trainers.Length * _s.ThreadsPerTrainer)));
        _s.Progress.Last = report;
        _s.Observer.Step(report);
    }

    /// <summary>Pushes the current totals into the rate window and returns the oldest entry and how many steps back it is.</summary>
    private (double At, double Wait, double Busy, int Steps) Record(double now, int steps)
    {
        _recorded += steps;
        int n = _window.Length;
        _window[_recorded % n] = (now, _wait, _busy);
        int back = Math.Min(_recorded, n - 1);
        var o = _window[(_recorded - back) % n];
        return (o.At, o.Wait, o.Busy, back);
    }

    private void OnDeadline(StepDeadline d)
    {
        if (d.Step != _step || !_inFlight) return;
        var missing = Enumerable.Range(0, _slots.Length).Where(k => _slots[k] is null).ToArray();
        if (_trainers.Length > 1)
        {
            foreach (int k in missing)
            {
                int from = _owner[k], to = _s.Plan.Retry(from, d.Attempt);
                if (_suspects.Add(from)) _s.Observer.Warning($"trainer-{from} is suspect: its shards go to the other trainers until it delivers again");
                _s.Observer.Warning($"step {_step}: shard {k} missed its {Deadline().TotalSeconds:0.#} s deadline on trainer-{from}; recomputing it on trainer-{to}");
                _trainers[to].Tell(new ComputeShards(_step, [k]), Self);
            }
        }
        else
        {
            _s.Observer.Warning($"step {_step}: shards {string.Join(",", missing)} are past the {Deadline().TotalSeconds:0.#} s deadline and there is no other trainer; still waiting");
        }
        Timers.StartSingleTimer(DeadlineTimer, new StepDeadline(_step, d.Attempt + 1), Deadline());
    }

    private void OnTrainerReady(TrainerReady m)
    {
        int n = _incarnations.GetValueOrDefault(m.Trainer) + 1;
        _incarnations[m.Trainer] = n;
        if (n == 1) return;
        _suspects.Remove(m.Trainer);
        if (!_inFlight) return;
        var missing = Enumerable.Range(0, _slots.Length).Where(k => _slots[k] is null && _owner[k] == m.Trainer).ToArray();
        if (missing.Length > 0) _trainers[m.Trainer].Tell(new ComputeShards(_step, missing), Self);
    }

    private void Finish()
    {
        if (_finishing) return;
        _finishing = true;
        Timers.Cancel(DeadlineTimer);
        // Always a final write, even when the step was just checkpointed: its reply, queued behind any earlier
        // write, is what says that everything is durable.
        Checkpoint(final: true);
    }

    private void Checkpoint(bool final)
    {
        var o = _s.Optimizer;
        var (epoch, inEpoch) = _s.Sampler.Cursor(_step);
        var checkpoint = new Checkpoint(_step, epoch, inEpoch, o.Parameters.Data.ToArray(), o.Adam.M.Data.ToArray(), o.Adam.V.Data.ToArray(),
            o.Adam.Step, _s.DataSeed);
        _outstanding++;
        _writer!.Tell(new SaveCheckpoint(checkpoint, final, Self), Self);
    }
}
