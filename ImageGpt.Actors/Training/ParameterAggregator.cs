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
    OptimizerStep Optimizer, BatchSampler Sampler, long StartStep, long TotalSteps, bool CheckpointAtStart,
    int CheckpointEvery, TimeSpan Deadline, ulong DataSeed, GradientPool Pool, LiveProgress Progress, ITrainingObserver Observer,
    TrainingHooks? Hooks, int ThreadsPerTrainer = 1, Cluster.NodeDataPlane? Plane = null, int MinTrainers = 1);

/// <summary>
/// Owns the parameters and the optimizer, and the run's trainers: nodes register theirs (<see cref="RegisterTrainer"/>),
/// the aggregator watches them, and joins and departures take effect at step boundaries (<see cref="PlanChanged"/>
/// tells the nodes). Each step it asks every trainer for its shards (<see cref="ShardPlan"/>),
/// collects one gradient per shard (the first to arrive; duplicates from recomputation are dropped), reduces them in
/// shard order, clips, runs Adam, and starts the next step. A step has a deadline (a timer): shards still missing then
/// are recomputed by another trainer and the late trainer is suspect until it delivers again (a lone trainer in another
/// process is asked again); a restarted trainer gets its missing shards again. Every <c>CheckpointEvery</c> steps it
/// hands a copy of the full state to the writer; at most two copies are ever outstanding (one being written, one
/// waiting): when the writer falls that far behind, the next step waits for it, so a slow store holds training back
/// instead of queueing copies or losing checkpoints.
/// </summary>
public sealed class ParameterAggregator : MonitoredActor, IWithTimers
{
    private const string DeadlineTimer = "deadline";

    /// <summary>A registered trainer: its supervisor (stable across incarnations) and its node.</summary>
    private sealed record Trainer(string Name, IActorRef Ref, IActorRef Node);

    private readonly AggregatorSetup _s;
    private readonly ShardGradient?[] _slots;
    private readonly int[] _owner;
    private readonly Dictionary<string, int> _incarnations = [];
    private readonly HashSet<int> _suspects = [];
    private readonly List<Trainer> _trainers = [];
    private readonly List<Trainer> _joining = [];
    private readonly HashSet<string> _leaving = [];
    private readonly HashSet<string> _computedBefore = [];
    private ShardPlan? _plan;
    private TimeSpan _deadline;
    /// <summary>Trainers the first step waits for (<c>MinTrainers</c>); 0 once a step has begun.</summary>
    private int _waitingFor;
    // Parameters offered to trainers in other processes: two copies in turn, so that a step's offer is never written
    // while a straggler may still read it; each buffer's withdrawal is awaited before it is written again.
    private readonly float[]?[] _published = new float[]?[2];
    private readonly Task?[] _withdrawn = new Task?[2];
    /// <summary>The current step's parameters on the data plane (null while every trainer is in this process).</summary>
    private DataPlane.TensorTicket? _ticket;
    private readonly long _tokensPerStep;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly (double At, double Wait, double Busy)[] _window = new (double, double, double)[21];
    private double _wait, _busy;
    private int _recorded;
    private IActorRef? _writer;
    private bool _started;
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
        _waitingFor = setup.MinTrainers;
        _slots = new ShardGradient?[setup.Sampler.Shards];
        _owner = new int[setup.Sampler.Shards];
        _tokensPerStep = (long)setup.Sampler.BatchSize * setup.Sampler.Data.T;
        // The per-core FMA ceiling every MFU is of, measured now, before any trainer holds a core (see Mfu.CoreCeilingGflops).
        Mfu.Calibrate();

        Receive<StartTraining>(m =>
        {
            _writer = m.Writer;
            Record(0, 0);
            if (setup.CheckpointAtStart && _step < setup.TotalSteps) Checkpoint(final: false);
            _started = true;
            if (_joining.Count > 0) Self.Tell(BeginStep.Instance);
        });
        Receive<RegisterTrainer>(OnRegister);
        Receive<BeginStep>(_ =>
        {
            if (_started && !_inFlight && !_waitingForWriter && !_finishing) NextStep();
        });
        Receive<Terminated>(t => OnTrainerGone(t.ActorRef, departed: t.AddressTerminated));
        Receive<NodeLeaving>(m =>
        {
            foreach (var trainer in _trainers.Concat(_joining).Where(x => x.Node.Equals(m.Node)).ToList()) OnTrainerGone(trainer.Ref, departed: true);
        });
        Receive<ShardDone>(OnShard);
        Receive<ShardOffered>(OnOffered);
        Receive<FetchFailed>(OnFetchFailed);
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
        ApplyMembership();
        if (_trainers.Count == 0) return;
        if (_trainers.Count < _waitingFor)
        {
            _s.Observer.Warning($"waiting for {_waitingFor} trainers (cluster.min-trainers) before the first step: {_trainers.Count} registered");
            return;
        }
        if (_waitingFor > 0)
        {
            // Rates count from the first step, not from the wait for trainers before it.
            Record(_clock.Elapsed.TotalSeconds, 0);
            _waitingFor = 0;
        }
        Array.Clear(_slots);
        _inFlight = true;
        Volatile.Write(ref _s.Progress.CurrentStep, _step);
        _plan!.Assign(_suspects, _owner);
        var shards = new int[_trainers.Count][];
        bool fresh = false;
        for (int t = 0; t < _trainers.Count; t++)
        {
            shards[t] = ShardPlan.ShardsOf(_owner, t);
            if (shards[t].Length > 0) fresh |= _computedBefore.Add(_trainers[t].Name);
        }
        // The deadline is armed before any shard goes out, so no trainer's answer can come before it.
        _deadline = Deadline(fresh);
        Timers.StartSingleTimer(DeadlineTimer, new StepDeadline(_step, 1), _deadline);
        _ticket = Publish();
        for (int t = 0; t < _trainers.Count; t++)
            if (shards[t].Length > 0) Ask(t, shards[t]);
    }

    /// <summary>A root that stops mid-step (hand-over, failure) leaves no offer behind on this member's data plane.</summary>
    protected override void PostStop()
    {
        if (_ticket is not null) _s.Plane?.Server.WithdrawAsync(_ticket.Id);
        base.PostStop();
    }

    /// <summary>Asks trainer <paramref name="t"/> for shards of the step in flight, with the step's parameters.</summary>
    private void Ask(int t, int[] shards) => _trainers[t].Ref.Tell(new ComputeShards(_step, shards, _ticket), Self);

    /// <summary>Offers this step's parameters on the data plane when a trainer is in another process (null otherwise).</summary>
    private DataPlane.TensorTicket? Publish()
    {
        if (_s.Plane is null || _trainers.All(t => t.Ref.Path.Address.HasLocalScope)) return null;
        int b = (int)(_step % 2);
        _withdrawn[b]?.Wait(TimeSpan.FromSeconds(30));
        var copy = _published[b] ??= new float[_s.Optimizer.Parameters.Length];
        _s.Optimizer.Parameters.Data.AsSpan().CopyTo(copy);
        return _s.Plane.Server.Offer(ParametersId(_step), copy);
    }

    /// <summary>The step's parameters leave the data plane when the step is over; <see cref="Publish"/> writes their buffer again only once they have left.</summary>
    private void WithdrawTicket()
    {
        if (_ticket is not null) _withdrawn[_step % 2] = _s.Plane!.Server.WithdrawAsync(_ticket.Id);
        _ticket = null;
    }

    private static string ParametersId(long step) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"params/{step}");

    /// <summary>A trainer in another process offered a gradient: fetch it into a pooled buffer, then let the trainer reuse its own.</summary>
    private void OnOffered(ShardOffered m)
    {
        if (_s.Hooks?.LoseOffer?.Invoke(m.Step, m.Shard) == true) return;
        var trainer = Sender;
        if (m.Step != _step || !_inFlight || _slots[m.Shard] is not null)
        {
            trainer.Tell(new GradientFetched(m.Gradient.Id), Self);
            return;
        }
        var buffer = _s.Pool.Rent();
        Task fetch;
        try
        {
            _s.Hooks?.BeforeFetch?.Invoke(m.Step, m.Shard);
            fetch = _s.Plane!.Client.FetchAsync(m.Gradient, buffer);
        }
        catch (Exception e)
        {
            fetch = Task.FromException(e);
        }
        fetch.ContinueWith(t =>
        {
            trainer.Tell(new GradientFetched(m.Gradient.Id));
            return t.IsCompletedSuccessfully
                ? (object)new ShardDone(m.Step, m.Shard, new ShardGradient(buffer, m.Loss, m.Images), m.Trainer, m.ComputeSeconds, m.WaitSeconds)
                : new FetchFailed(m.Step, m.Shard, m.Trainer, t.Exception?.InnerException?.Message ?? "cancelled", buffer);
        }, TaskScheduler.Default).PipeTo(Self);
    }

    /// <summary>An offered gradient could not be fetched; its buffer goes back to the pool.</summary>
    private sealed record FetchFailed(long Step, int Shard, string Trainer, string Error, float[] Buffer);

    /// <summary>
    /// The trainer that computed a shard the step still lacks computes it again at once: its gradient is lost, and a lone
    /// trainer would never be asked again (the deadline only moves shards to other trainers).
    /// </summary>
    private void OnFetchFailed(FetchFailed m)
    {
        _s.Pool.Return(m.Buffer);
        if (m.Step != _step || !_inFlight || _slots[m.Shard] is not null) return;
        int owner = _owner[m.Shard];
        string what = $"step {m.Step}: the gradient of shard {m.Shard} from {m.Trainer} could not be fetched ({m.Error})";
        if (_trainers[owner].Name != m.Trainer || _leaving.Contains(m.Trainer))
        {
            _s.Observer.Warning($"{what}; the deadline moves it elsewhere");
            return;
        }
        _s.Observer.Warning($"{what}; {m.Trainer} computes it again");
        Ask(owner, [m.Shard]);
    }

    /// <summary>Joins and departures take effect here, between steps; the nodes learn the new order.</summary>
    private void ApplyMembership()
    {
        if (_joining.Count == 0 && _leaving.Count == 0 && _plan is not null) return;
        var before = _trainers.Select(t => t.Name).ToList();
        _trainers.RemoveAll(t => _leaving.Contains(t.Name));
        _trainers.AddRange(_joining.Where(j => !_leaving.Contains(j.Name)));
        _joining.Clear();
        _leaving.Clear();
        _suspects.Clear();
        var names = _trainers.Select(t => t.Name).ToList();
        _s.Progress.Trainers = names;
        if (_trainers.Count == 0)
        {
            _plan = null;
            _s.Observer.Warning($"step {_step}: no trainer is left; waiting for one to join");
            return;
        }
        _plan = new ShardPlan(_slots.Length, _trainers.Count);
        if (before.Count > 0 && !before.SequenceEqual(names))
            _s.Observer.Warning($"from step {_step} the run has {names.Count} trainer(s): {string.Join(", ", names)}");
        var plan = new PlanChanged(_step, names);
        foreach (var node in _trainers.Select(t => t.Node).Distinct()) node.Tell(plan, Self);
    }

    private void OnRegister(RegisterTrainer m)
    {
        int known = _trainers.FindIndex(t => t.Name == m.Name);
        if (known >= 0 && _trainers[known].Ref.Equals(m.Trainer)) return;
        Context.Watch(m.Trainer);
        _joining.RemoveAll(j => j.Name == m.Name);
        if (known >= 0) _leaving.Add(m.Name);
        _joining.Add(new Trainer(m.Name, m.Trainer, m.Node));
        if (_plan is not null) _s.Observer.Warning($"{m.Name} joins the run at the next step");
        // Behind the registrations already in the mailbox (a node registers all its trainers at once).
        if (_started && !_inFlight) Self.Tell(BeginStep.Instance);
    }

    /// <summary>Starts a step when none runs (after a trainer joined an idle run).</summary>
    private sealed record BeginStep
    {
        public static readonly BeginStep Instance = new();
    }

    /// <summary>
    /// A trainer leaves at the step boundary. When its node departed (it said it leaves, or its member is gone), what it
    /// owed of this step is computed by the others now rather than after a deadline; with no other trainer the step
    /// starts over when one joins. A trainer that gave up while its node lives is a failure its node reports, which ends
    /// the run; its shards wait for that (or for the deadline).
    /// </summary>
    private void OnTrainerGone(IActorRef actor, bool departed)
    {
        int t = _trainers.FindIndex(x => x.Ref.Equals(actor));
        _joining.RemoveAll(j => j.Ref.Equals(actor));
        if (t < 0 || !_leaving.Add(_trainers[t].Name)) return;
        if (!_inFlight || !departed) return;
        var others = Enumerable.Range(0, _trainers.Count).Where(i => i != t && !_leaving.Contains(_trainers[i].Name)).ToArray();
        if (others.Length == 0)
        {
            Abandon();
            return;
        }
        int attempt = 0;
        foreach (int k in Enumerable.Range(0, _slots.Length).Where(k => _slots[k] is null && _owner[k] == t))
        {
            int to = others[attempt++ % others.Length];
            _owner[k] = to;
            _s.Observer.Warning($"step {_step}: {_trainers[t].Name} is gone; shard {k} goes to {_trainers[to].Name}");
            Ask(to, [k]);
        }
    }

    /// <summary>
    /// The step in flight has no trainer left to finish it: its gradients so far go back to the pool and it is computed
    /// again, every shard, by the trainers there are at the next <see cref="NextStep"/> (the same gradients: a shard's
    /// batch and the parameters are the step's).
    /// </summary>
    private void Abandon()
    {
        Timers.Cancel(DeadlineTimer);
        foreach (var slot in _slots) if (slot is { } g) _s.Pool.Return(g.Gradients);
        Array.Clear(_slots);
        _inFlight = false;
        WithdrawTicket();
        NextStep();
    }

    /// <summary>A trainer's first shards also compile its kernels and touch every buffer, so their step gets longer.</summary>
    private TimeSpan Deadline(bool fresh) => fresh ? TimeSpan.FromTicks(Math.Max(_s.Deadline.Ticks * 10, TimeSpan.FromSeconds(30).Ticks)) : _s.Deadline;

    private int IndexOf(string name) => _trainers.FindIndex(t => t.Name == name);

    private void OnShard(ShardDone m)
    {
        int from = IndexOf(m.Trainer);
        if (from >= 0 && _suspects.Remove(from)) _s.Observer.Warning($"{m.Trainer} delivers again; it gets its own shards from the next step on");
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
        WithdrawTicket();
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
        double busyFraction = span > 0 ? busy / (span * Math.Max(1, _trainers.Count)) : 0;
        var report = new StepReport(_step, _s.TotalSteps, _s.Sampler.Cursor(_step - 1).Epoch, stats.Loss, stats.GradNorm, stats.Lr,
            rate, waitFraction, busyFraction, now, Mfu.Of(_s.Optimizer.Parameters.Config, rate, Math.Max(1, _trainers.Count * _s.ThreadsPerTrainer)));
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
        if (_trainers.Count > 1)
        {
            foreach (int k in missing)
            {
                int from = _owner[k], to = _plan!.Retry(from, d.Attempt);
                if (_suspects.Add(from)) _s.Observer.Warning($"{_trainers[from].Name} is suspect: its shards go to the other trainers until it delivers again");
                _s.Observer.Warning($"step {_step}: shard {k} missed its {_deadline.TotalSeconds:0.#} s deadline on {_trainers[from].Name}; recomputing it on {_trainers[to].Name}");
                Ask(to, [k]);
            }
        }
        else if (_trainers[0].Ref.Path.Address.HasLocalScope)
        {
            _s.Observer.Warning($"step {_step}: shards {string.Join(",", missing)} are past the {_deadline.TotalSeconds:0.#} s deadline and there is no other trainer; still waiting");
        }
        else
        {
            // A remote request or its answer can be lost (remoting delivers at most once): the lone trainer is asked again,
            // and answers with the offer it still holds, or computes what it never got.
            _s.Observer.Warning($"step {_step}: shards {string.Join(",", missing)} are past the {_deadline.TotalSeconds:0.#} s deadline and there is no other trainer; asking {_trainers[0].Name} again");
            Ask(0, missing);
        }
        _deadline = _s.Deadline;
        Timers.StartSingleTimer(DeadlineTimer, new StepDeadline(_step, d.Attempt + 1), _deadline);
    }

    private void OnTrainerReady(TrainerReady m)
    {
        int n = _incarnations.GetValueOrDefault(m.Trainer) + 1;
        _incarnations[m.Trainer] = n;
        int t = IndexOf(m.Trainer);
        if (n == 1 || t < 0) return;
        _suspects.Remove(t);
        if (!_inFlight) return;
        var missing = Enumerable.Range(0, _slots.Length).Where(k => _slots[k] is null && _owner[k] == t).ToArray();
        if (missing.Length > 0) Ask(t, missing);
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
