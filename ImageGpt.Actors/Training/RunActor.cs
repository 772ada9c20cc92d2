using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>What the run's root needs on the node it runs on (the state itself it loads from the store).</summary>
/// <param name="Parameters">The slab to train: shared with this process's trainers (one node), or a fresh one.</param>
/// <param name="Done">Completed with the outcome when the run ends on this node.</param>
/// <param name="Clustered">The root is a cluster singleton: its checkpoints are fenced by its lease, nodes are told to register
/// with it, every member learns the end, and on hand-over it stops after a checkpoint instead of ending the run.</param>
public sealed record RunSetup(
    RunConfig Config, TrainingInputs Inputs, ICheckpointStore Store, ITrainingObserver Observer, TrainingHooks? Hooks,
    ParameterSlab Parameters, LiveProgress Progress, string IdentityJson, TaskCompletionSource<TrainingOutcome> Done,
    bool Clustered = false);

/// <summary>
/// The root of a run. It starts from what the store holds: its <see cref="RunHistoryActor"/> child recovers the run's
/// events, the newest checkpoint whose payload verifies is loaded (or the weights are initialised), and the run's start
/// or resumption is journaled; so it starts the same whether the run is new, resumed by a command, or taken over by
/// another node. Then it creates the
/// aggregator, checkpoint writer and evaluator, passes the nodes' trainers on to the aggregator, reports every failure
/// in its subtree on one line, rewrites status.json every second, and ends the run when the aggregator says so (after
/// the evaluator has finished, unless stopped). The evaluator sits under a backoff supervisor with a restart budget;
/// when it gives up, or a node reports that one of its children did, or the aggregator, the writer or the history
/// stops, the run stops with the reason.
/// </summary>
public sealed class RunActor : MonitoredActor, IWithTimers, IWithUnboundedStash
{
    private sealed record WriteStatus;
    private sealed record DrainFinished(long Step, bool Drained);
    private sealed record Loaded(RunHistory History, Checkpoint? Checkpoint);

    private static readonly TimeSpan HistoryTimeout = TimeSpan.FromMinutes(10);

    private readonly RunSetup _s;
    /// <summary>The children whose end ends the run: a name for messages and, for backoff supervisors, their child's name.</summary>
    private readonly Dictionary<IActorRef, (string Name, string? Child)> _watched = [];
    private readonly Dictionary<string, string> _lastFailureOf = [];
    private IActorRef _history = ActorRefs.Nobody;
    private IActorRef _aggregator = ActorRefs.Nobody;
    private IActorRef? _writer;
    private IActorRef? _evaluator;
    private RunPhase _phase = RunPhase.Training;
    private string? _lastFailure;
    private string _stopReason = "stopped";
    private bool _ended;
    private bool _historyGone;
    private bool _handingOver;
    private long _startStep;
    private Fence? _fence;
    private string? _node;
    /// <summary>In a cluster: which members proved they know the run's secret; the root takes trainers and orders only from them.</summary>
    private Cluster.AdmissionGate? _gate;

    public ITimerScheduler Timers { get; set; } = null!;

    public IStash Stash { get; set; } = null!;

    public RunActor(RunSetup setup)
    {
        _s = setup;
        Loading();
    }

    /// <summary>Until the state is loaded: failures and the end are handled, everything else waits.</summary>
    private void Loading()
    {
        Receive<Loaded>(m =>
        {
            try { Start(m.History, m.Checkpoint); }
            catch (Nn.UserError e)
            {
                End(RunPhase.Failed, 0, e.Message);
                return;
            }
            Become(Running);
            Stash.UnstashAll();
        });
        Receive<Status.Failure>(f => End(RunPhase.Failed, 0, $"the run's state could not be loaded from its store: {f.Cause.GetType().Name}: {f.Cause.Message}"));
        CommonReceives();
        ReceiveAny(_ => Stash.Stash());
    }

    private void CommonReceives()
    {
        Receive<Error>(e =>
        {
            if (e.Cause is not null && typeof(SupervisorStrategy).IsAssignableFrom(e.LogClass) && e.LogSource.StartsWith(Self.Path + "/", StringComparison.Ordinal))
                OnChildFailure(e);
        });
        Receive<RunHistoryActor.WriteFailed>(m => _lastFailure = m.Reason);
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
        Receive<TrainingFailed>(m =>
        {
            if (FromAdmitted(m)) End(RunPhase.Failed, _s.Progress.Last?.Step ?? _startStep, m.Error);
        });
    }

    private void Running()
    {
        CommonReceives();
        Receive<Cluster.AdmissionHello>(m =>
        {
            if (_gate is not null) Sender.Tell(_gate.Hello(Sender.Path.Address, m), Self);
        });
        Receive<Cluster.AdmissionProof>(OnAdmissionProof);
        Receive<DownIfStillMember>(OnDownIfStillMember);
        Receive<StopTraining>(m =>
        {
            if (_ended || !FromAdmitted(m)) return;
            _stopReason = m.Reason;
            if (_phase == RunPhase.Evaluating) { End(RunPhase.Stopped, _s.Progress.Last?.Step ?? _startStep, null); return; }
            _phase = RunPhase.Stopping;
            _aggregator?.Tell(m, Self);
        });
        Receive<HandOver>(_ =>
        {
            if (_ended)
            {
                Context.Stop(Self);
                return;
            }
            _handingOver = true;
            _s.Observer.Warning("this node leaves: the aggregator finishes its step, writes a checkpoint and hands the run over");
            _aggregator.Tell(new StopTraining("hand-over"), Self);
        });
        Receive<TrainingFinished>(m =>
        {
            if (_handingOver)
            {
                Context.Stop(Self);
                return;
            }
            if (m.Stopped || _evaluator is null) { End(m.Stopped ? RunPhase.Stopped : RunPhase.Finished, m.Step, null); return; }
            _phase = RunPhase.Evaluating;
            AskDrain(m.Step);
        });
        // A Drain sent while the evaluator is being restarted is lost, so the question is asked again.
        Receive<DrainFinished>(m =>
        {
            if (m.Drained) End(RunPhase.Finished, m.Step, null);
            else AskDrain(m.Step);
        });
        Receive<RegisterTrainer>(m =>
        {
            if (FromAdmitted(m)) _aggregator.Forward(m);
        });
        Receive<NodeLeaving>(m =>
        {
            if (FromAdmitted(m)) _aggregator.Forward(m);
        });
        Receive<TrainerReady>(m => _aggregator.Forward(m));
        Receive<RunHistoryActor.Recorded>(_ => { });
        Receive<WriteStatus>(_ => Status(null));
    }

    /// <summary>The aggregator and the writer hold the run's state: a failure of theirs ends the run (the last checkpoint is intact).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(Error));
        var c = _s.Config;
        if (_s.Clustered)
        {
            // The singleton manager took the lease named after itself before creating this actor; its epoch fences our writes.
            _node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.HostPort();
            string lease = $"{Context.System.Name}-singleton-{Context.Parent.Path}";
            var held = new Cluster.RunLeases(Cluster.RunStoreSetup.Of(Context.System)).Read(lease);
            if (held is not { } h || h.Owner != _node)
                throw new InvalidOperationException($"the aggregator lease {lease} is not held by {_node}");
            _fence = new Fence(lease, h.Epoch);
            _gate = new Cluster.AdmissionGate(RunSecret.Resolve(c));
        }
        _history = Watch(Context.ActorOf(Props.Create(() => new RunHistoryActor(c.RunId)), "history"), "run's history");
        var store = _s.Store;
        var observer = _s.Observer;
        // The history actor answers once it has recovered; the payload is read off the actor's thread.
        _history.Ask<RunHistorySnapshot>(new RunHistoryActor.GetHistory(), HistoryTimeout)
            .ContinueWith(t =>
            {
                var history = RunHistory.FromSnapshot(t.Result);
                return new Loaded(history, store.LoadLatest(history, w => observer.Warning(w)));
            }, TaskScheduler.Default)
            .PipeTo(Self);
    }

    /// <summary>The state is loaded: parameters and optimizer from the checkpoint (or a fresh initialisation), then the actors.</summary>
    private void Start(RunHistory history, Checkpoint? resume)
    {
        var c = _s.Config;
        var rt = c.Runtime;
        var t = c.Train;
        var observer = _s.Observer;
        var parameters = _s.Parameters;
        var optimizer = new OptimizerStep(parameters, new LrSchedule(t.Lr, t.Warmup, t.Steps), (float)t.Beta1, (float)t.Beta2, (float)t.WeightDecay, (float)t.Clip);
        if (resume is null)
        {
            new Gpt(c.Model, 1, parameters).Init();
        }
        else
        {
            Restore(resume.Parameters, parameters, "parameters");
            Restore(resume.AdamM, optimizer.Adam.M, "Adam m");
            Restore(resume.AdamV, optimizer.Adam.V, "Adam v");
            optimizer.Adam.Step = resume.AdamStep;
        }
        _startStep = resume?.Step ?? 0;
        _history.Tell(history.Started is null
            ? new RunHistoryActor.Record(new RunStarted(c.RunId, _s.IdentityJson, _s.Inputs.Palette.ToJson(), t.Steps, DateTimeOffset.UtcNow))
            : new RunHistoryActor.Record(new RunResumed(_startStep, DateTimeOffset.UtcNow, _node, _fence?.Epoch ?? 0)));

        if (c.Eval.Enabled && _s.Inputs.Eval is { } evalData)
        {
            var evalSetup = new EvaluatorSetup(c.Model, evalData, c.Eval.ToOptions(), _s.Inputs.Palette, _history, c.RunDir, observer);
            _evaluator = Watch(Context.ActorOf(Supervision.Backoff(Props.Create(() => new EvaluatorActor(evalSetup)), "evaluator", rt), "evaluator"), "evaluator", "evaluator");
            // Subscribed here, before the first checkpoint can be published; the supervisor forwards to the current evaluator.
            Context.System.EventStream.Subscribe(_evaluator, typeof(CheckpointSaved));
        }
        var writerSetup = new WriterSetup(c.RunId, _s.Store, _history, history.Checkpoints, c.Model, c.RunDir, c.Checkpoint.Keep, c.Checkpoint.ExportSafetensors, observer, _fence);
        _writer = Watch(Context.ActorOf(Props.Create(() => new CheckpointWriter(writerSetup)), "checkpoints"), "checkpoint writer");
        var sampler = new BatchSampler(_s.Inputs.Train, t.Batch, t.Shards, t.Seed);
        var aggregatorSetup = new AggregatorSetup(optimizer, sampler, _startStep, t.Steps, _startStep == 0,
            c.Checkpoint.Every, rt.StepDeadline, t.Seed, GradientPools.Get(Context.System).For(parameters.Length), _s.Progress, observer, _s.Hooks, rt.ThreadsPerTrainer,
            Plane: _s.Clustered ? Cluster.NodeDataPlane.Get(Context.System) : null,
            MinTrainers: history.Started is null ? c.Cluster?.MinTrainers ?? 1 : 1);
        _aggregator = Watch(Context.ActorOf(Props.Create(() => new ParameterAggregator(aggregatorSetup)), "aggregator"), "parameter aggregator");
        _aggregator.Tell(new StartTraining(_writer), Self);
        LocalAggregators.Get(Context.System).Add(c.RunId, parameters);
        // A root that takes over from another node has no trainers yet: every node registers its own again.
        if (_s.Clustered) Cluster.RunWatcher.TellAll(Context.System, "node", RegisterAgain.Instance);
        // status.json exists from the start, then is rewritten every second.
        Status(null);
        Timers.StartPeriodicTimer("status", new WriteStatus(), TimeSpan.FromSeconds(1));
    }

    /// <summary>A node's proof of the run's secret: admitted, or refused and downed (it leaves the cluster).</summary>
    private void OnAdmissionProof(Cluster.AdmissionProof m)
    {
        if (_gate is null) return;
        var member = Sender.Path.Address;
        var answer = _gate.Proof(member, m);
        if (answer is null) return;
        Sender.Tell(answer, Self);
        if (answer is not Cluster.AdmissionRefused refused) return;
        _s.Observer.Warning($"refused the node at {member}: {refused.Reason}; it leaves the cluster");
        // A refused node leaves by itself. Downing it at once would leave an unreachable member behind it for a while,
        // which the split-brain resolver of a member that becomes leader meanwhile cannot settle while this side holds
        // its lease: it would down its own side. Only a node that stays is downed.
        Timers.StartSingleTimer($"refused-{member}", new DownIfStillMember(member), RefusedGrace);
    }

    private static readonly TimeSpan RefusedGrace = TimeSpan.FromSeconds(10);

    private sealed record DownIfStillMember(Address Member);

    private void OnDownIfStillMember(DownIfStillMember m)
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        if (cluster.State.Members.Any(x => x.Address == m.Member && x.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up))
        {
            _s.Observer.Warning($"the refused node at {m.Member} did not leave within {RefusedGrace.TotalSeconds:0} s; it is downed");
            cluster.Down(m.Member);
        }
    }

    /// <summary>Whether the run takes <paramref name="message"/> from its sender: always in one process, from admitted members in a cluster.</summary>
    private bool FromAdmitted(object message)
    {
        if (_gate is null || _gate.Admitted(Sender.Path.Address)) return true;
        _s.Observer.Warning($"ignored {message.GetType().Name} from {Sender.Path.Address}, which has not proved it knows the run's secret");
        return false;
    }

    private static void Restore(float[] from, ParameterSlab to, string what)
    {
        if (from.Length != to.Length)
            throw new Nn.UserError($"the checkpoint's {what} hold {from.Length} values, the configured model {to.Length}. HINT: resume with the config the run was started with");
        from.CopyTo(to.Data, 0);
    }

    private IActorRef Watch(IActorRef actor, string name, string? child = null)
    {
        Context.Watch(actor);
        _watched[actor] = (name, child);
        return actor;
    }

    private void OnChildFailure(Error e)
    {
        string path = e.LogSource[(Self.Path.ToString().Length + 1)..];
        string what = $"{e.Cause!.GetType().Name}: {e.Cause.Message}";
        _lastFailure = $"{path}: {what}";
        _lastFailureOf[path.Split('/')[0]] = what;
        bool restarts = path.Contains('/', StringComparison.Ordinal);
        _s.Observer.Warning($"{path} failed: {what} ({(restarts ? "restarted after a backoff while runtime.restart.max-restarts allows" : "the run stops")})");
    }

    private void OnTerminated(IActorRef actor)
    {
        if (actor.Equals(_history)) _historyGone = true;
        if (_ended || !_watched.TryGetValue(actor, out var watched)) return;
        string last = _lastFailureOf.GetValueOrDefault(actor.Path.Name) ?? _lastFailure ?? "no failure was reported";
        var rt = _s.Config.Runtime;
        string reason;
        if (watched.Child is { } child)
        {
            HealthRegistry.Get(Context.System).MarkFailed($"{actor.Path}/{child}");
            reason = $"{watched.Name} failed more than runtime.restart.max-restarts = {rt.MaxRestarts} times within {rt.RestartWindow.TotalSeconds:0.#} s (last: {last}). " +
                "HINT: fix the cause, or raise runtime.restart.max-restarts; --resume continues from the last checkpoint";
        }
        else reason = $"the {watched.Name} stopped: {last}";
        End(RunPhase.Failed, _s.Progress.Last?.Step ?? _startStep, reason);
    }

    private void AskDrain(long step)
    {
        var self = Self;
        _evaluator!.Ask<Drained>(new Drain(), TimeSpan.FromSeconds(30))
            .ContinueWith(t => self.Tell(new DrainFinished(step, t.IsCompletedSuccessfully)), TaskScheduler.Default);
    }

    protected override void PostStop() => LocalAggregators.Get(Context.System).Remove(_s.Config.RunId, _s.Parameters);

    /// <summary>Journals how the run ended (when the history still can), writes the last status and completes the run.</summary>
    private void End(RunPhase phase, long step, string? error)
    {
        if (_ended) return;
        _ended = true;
        _phase = phase;
        Timers.CancelAll();
        // A failed run takes no further step (and writes no checkpoint after its failure).
        if (phase == RunPhase.Failed && !_aggregator.IsNobody()) Context.Stop(_aggregator);
        Status(error);
        var outcome = new TrainingOutcome(step, phase == RunPhase.Stopped, _s.Parameters, error);
        IRunEvent ending = phase switch
        {
            RunPhase.Finished => new RunFinished(step, DateTimeOffset.UtcNow),
            RunPhase.Stopped => new RunStopped(step, _stopReason, DateTimeOffset.UtcNow),
            _ => new RunFailed(step, error ?? "failed", DateTimeOffset.UtcNow),
        };
        var done = _s.Done;
        var system = Context.System;
        bool clustered = _s.Clustered;
        void Complete()
        {
            done.TrySetResult(outcome);
            if (clustered) Cluster.RunWatcher.TellAll(system, Cluster.RunWatcher.Name, new RunEnded(step, outcome.Stopped, error));
        }
        if (_historyGone)
        {
            Complete();
            return;
        }
        _history.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(ending), HistoryTimeout)
            .ContinueWith(_ => Complete(), TaskScheduler.Default);
    }

    private void Status(string? error)
    {
        var last = _s.Progress.Last;
        var status = new RunStatus(Environment.ProcessId, DateTime.UtcNow, _s.Config.RunId, _phase, last?.Step ?? _startStep, _s.Config.Train.Steps,
            last?.Loss ?? double.NaN, last?.TokensPerSecond ?? 0, last?.DataWaitFraction ?? 0, error ?? _lastFailure, HealthRegistry.Get(Context.System).Snapshot(),
            _s.Clustered ? Cluster.ClusterView.Of(Context.System, _s.Progress.Trainers) : null);
        try { status.Write(_s.Config.RunDir); }
        catch (IOException e) { _s.Observer.Warning($"could not write {RunStatus.FileName} in {_s.Config.RunDir}: {e.Message}"); }
    }
}
