using System.Globalization;
using Akka.Actor;
using Akka.Event;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>Everything the run's root actor wires together.</summary>
public sealed record RunSetup(
    RunConfig Config, TrainingInputs Inputs, ICheckpointStore Store, RunHistory History, ITrainingObserver Observer, TrainingHooks? Hooks,
    ParameterSlab Parameters, OptimizerStep Optimizer, BatchSampler Sampler, ShardPlan Plan, long StartStep,
    string IdentityJson, CancellationToken Stopping, TaskCompletionSource<TrainingOutcome> Done);

/// <summary>
/// The root of a run: journals how the run starts and ends (its <see cref="RunHistoryActor"/> child), creates the
/// loaders, trainers, aggregator, checkpoint writer and evaluator, reports every failure in its subtree on one line,
/// rewrites status.json every second, and ends the run when the aggregator says so (after the evaluator has finished,
/// unless stopped). Loaders, trainers and the evaluator sit under backoff supervisors with a restart budget; when one
/// gives up, or the aggregator, the writer or the history stops, the run stops with the reason.
/// </summary>
public sealed class RunActor : MonitoredActor, IWithTimers
{
    private sealed record WriteStatus;
    private sealed record DrainFinished(long Step, bool Drained);

    private static readonly TimeSpan HistoryTimeout = TimeSpan.FromMinutes(10);

    private readonly RunSetup _s;
    private readonly LiveProgress _progress = new();
    /// <summary>The children whose end ends the run: a name for messages and, for backoff supervisors, their child's name.</summary>
    private readonly Dictionary<IActorRef, (string Name, string? Child)> _watched = [];
    private readonly Dictionary<string, string> _lastFailureOf = [];
    private IActorRef? _history;
    private IActorRef? _aggregator;
    private IActorRef? _writer;
    private IActorRef? _evaluator;
    private RunPhase _phase = RunPhase.Training;
    private string? _lastFailure;
    private string _stopReason = "stopped";
    private bool _ended;
    private bool _historyGone;

    public ITimerScheduler Timers { get; set; } = null!;

    public RunActor(RunSetup setup)
    {
        _s = setup;
        Receive<Error>(e =>
        {
            if (e.Cause is not null && typeof(SupervisorStrategy).IsAssignableFrom(e.LogClass) && e.LogSource.StartsWith(Self.Path + "/", StringComparison.Ordinal))
                OnChildFailure(e);
        });
        Receive<StopTraining>(m =>
        {
            if (_ended) return;
            _stopReason = m.Reason;
            if (_phase == RunPhase.Evaluating) { End(RunPhase.Stopped, _progress.Last?.Step ?? _s.StartStep, null); return; }
            _phase = RunPhase.Stopping;
            _aggregator?.Tell(m, Self);
        });
        Receive<TrainingFinished>(m =>
        {
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
        Receive<TrainingFailed>(m => End(RunPhase.Failed, _progress.Last?.Step ?? _s.StartStep, m.Error));
        Receive<RunHistoryActor.WriteFailed>(m => _lastFailure = m.Reason);
        Receive<RunHistoryActor.Recorded>(_ => { });
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
        Receive<WriteStatus>(_ => Status(null));
    }

    /// <summary>The aggregator and the writer hold the run's state: a failure of theirs ends the run (the last checkpoint is intact).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => Akka.Actor.SupervisorStrategy.StoppingStrategy;

    protected override void PreStart()
    {
        var c = _s.Config;
        var rt = c.Runtime;
        var observer = _s.Observer;
        Context.System.EventStream.Subscribe(Self, typeof(Error));

        _history = Watch(Context.ActorOf(Props.Create(() => new RunHistoryActor(c.RunId)), "history"), "run's history");
        _history.Tell(_s.StartStep == 0 && _s.History.Started is null
            ? new RunHistoryActor.Record(new RunStarted(c.RunId, _s.IdentityJson, _s.Inputs.Palette.ToJson(), c.Train.Steps, DateTimeOffset.UtcNow))
            : new RunHistoryActor.Record(new RunResumed(_s.StartStep, DateTimeOffset.UtcNow)));

        if (c.Eval.Enabled && _s.Inputs.Eval is { } evalData)
        {
            var evalSetup = new EvaluatorSetup(c.Model, evalData, c.Eval.ToOptions(), _s.Inputs.Palette, _history, c.RunDir, observer);
            _evaluator = Watch(Context.ActorOf(Supervision.Backoff(Props.Create(() => new EvaluatorActor(evalSetup)), "evaluator", rt), "evaluator"), "evaluator", "evaluator");
            // Subscribed here, before the first checkpoint can be published; the supervisor forwards to the current evaluator.
            Context.System.EventStream.Subscribe(_evaluator, typeof(CheckpointSaved));
        }
        var writerSetup = new WriterSetup(c.RunId, _s.Store, _history, _s.History.Checkpoints, c.Model, c.RunDir, c.Checkpoint.Keep, c.Checkpoint.ExportSafetensors, observer);
        _writer = Watch(Context.ActorOf(Props.Create(() => new CheckpointWriter(writerSetup)), "checkpoints"), "checkpoint writer");
        var pool = new GradientPool(_s.Parameters.Length);
        var aggregatorSetup = new AggregatorSetup(_s.Optimizer, _s.Sampler, _s.Plan, _s.StartStep, c.Train.Steps, _s.StartStep == 0,
            c.Checkpoint.Every, rt.StepDeadline, c.Train.Seed, pool, _progress, observer, _s.Hooks, rt.ThreadsPerTrainer);
        _aggregator = Watch(Context.ActorOf(Props.Create(() => new ParameterAggregator(aggregatorSetup)), "aggregator"), "parameter aggregator");

        int shardCapacity = (c.Train.Batch + c.Train.Shards - 1) / c.Train.Shards;
        var trainers = new IActorRef[_s.Plan.Trainers];
        for (int i = 0; i < trainers.Length; i++)
        {
            var lane = new BatchLane(i, _s.Plan, _s.Sampler, _s.StartStep, c.Train.Steps, rt.Prefetch, _s.Stopping);
            var name = i.ToString(CultureInfo.InvariantCulture);
            Watch(Context.ActorOf(Supervision.Backoff(Props.Create(() => new DataLoaderActor(lane, _s.Hooks)), "loader", rt), $"loader-{name}"), $"loader-{name}", "loader");
            var trainerSetup = new TrainerSetup(i, lane, _s.Parameters, shardCapacity, rt.ThreadsPerTrainer, c.Model.Seed, pool, _aggregator, _progress,
                rt.StepDeadline, observer, _s.Hooks, rt.Backend, rt.Device);
            trainers[i] = Watch(Context.ActorOf(Supervision.Backoff(Props.Create(() => new TrainerActor(trainerSetup)), "trainer", rt), $"trainer-{name}"), $"trainer-{name}", "trainer");
        }
        _aggregator.Tell(new StartTraining(trainers, _writer), Self);
        // status.json exists from the start, then is rewritten every second.
        Status(null);
        Timers.StartPeriodicTimer("status", new WriteStatus(), TimeSpan.FromSeconds(1));
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
        End(RunPhase.Failed, _progress.Last?.Step ?? _s.StartStep, reason);
    }

    private void AskDrain(long step)
    {
        var self = Self;
        _evaluator!.Ask<Drained>(new Drain(), TimeSpan.FromSeconds(30))
            .ContinueWith(t => self.Tell(new DrainFinished(step, t.IsCompletedSuccessfully)), TaskScheduler.Default);
    }

    /// <summary>Journals how the run ended (when the history still can), writes the last status and completes the run.</summary>
    private void End(RunPhase phase, long step, string? error)
    {
        if (_ended) return;
        _ended = true;
        _phase = phase;
        Timers.CancelAll();
        Status(error);
        var outcome = new TrainingOutcome(step, phase == RunPhase.Stopped, _s.Parameters, error);
        IRunEvent ending = phase switch
        {
            RunPhase.Finished => new RunFinished(step, DateTimeOffset.UtcNow),
            RunPhase.Stopped => new RunStopped(step, _stopReason, DateTimeOffset.UtcNow),
            _ => new RunFailed(step, error ?? "failed", DateTimeOffset.UtcNow),
        };
        var done = _s.Done;
        if (_history is null || _historyGone)
        {
            done.TrySetResult(outcome);
            return;
        }
        _history.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(ending), HistoryTimeout)
            .ContinueWith(_ => done.TrySetResult(outcome), TaskScheduler.Default);
    }

    private void Status(string? error)
    {
        var last = _progress.Last;
        var status = new RunStatus(Environment.ProcessId, DateTime.UtcNow, _s.Config.RunId, _phase, last?.Step ?? _s.StartStep, _s.Config.Train.Steps,
            last?.Loss ?? double.NaN, last?.TokensPerSecond ?? 0, last?.DataWaitFraction ?? 0, error ?? _lastFailure, HealthRegistry.Get(Context.System).Snapshot());
        try { status.Write(_s.Config.RunDir); }
        catch (IOException e) { _s.Observer.Warning($"could not write {RunStatus.FileName} in {_s.Config.RunDir}: {e.Message}"); }
    }
}
