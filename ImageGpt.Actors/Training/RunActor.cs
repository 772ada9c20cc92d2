using System.Globalization;
using ImageGpt.Actors.Runtime;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Actors.Training;

/// <summary>Everything the run's root actor wires together.</summary>
public sealed record RunSetup(
    RunConfig Config, TrainingInputs Inputs, IRunStore Store, ITrainingObserver Observer, TrainingHooks? Hooks,
    ParameterSlab Parameters, OptimizerStep Optimizer, BatchSampler Sampler, int Trainers, long StartStep,
    bool Fresh, string IdentityJson, CancellationToken Stopping, TaskCompletionSource<TrainingOutcome> Done);

/// <summary>
/// The root of a run: creates the loaders, trainers, aggregator, checkpoint writer and evaluator,
/// reports every actor failure, rewrites status.json every second, and ends the run when the
/// aggregator says so (after the evaluator has finished the queued evaluations, unless stopped).
/// Loaders, trainers and the evaluator sit under backoff supervisors that restart them; a failure of
/// the aggregator or the writer ends the run with an error (their state is the run).
/// </summary>
public sealed class RunActor : ReceiveActor
{
    private sealed record WriteStatus;
    private sealed record DrainFinished(long Step, bool Drained);

    private readonly RunSetup _s;
    private readonly LiveProgress _progress = new();
    private IActorRef? _aggregator;
    private IActorRef? _evaluator;
    private string _phase = "training";
    private string? _lastFailure;
    private bool _ended;

    public RunActor(RunSetup setup)
    {
        _s = setup;
        Receive<ActorFailed>(f =>
        {
            _lastFailure = $"{f.Actor.Path}: {f.Cause.GetType().Name}: {f.Cause.Message}";
            // Loaders, trainers and the evaluator come back after a backoff; the aggregator and the writer end the run.
            bool restarts = f.ActorType == typeof(DataLoaderActor) || f.ActorType == typeof(TrainerActor) || f.ActorType == typeof(EvaluatorActor);
            _s.Observer.Warning($"{_lastFailure} ({(restarts ? "restarted after a backoff" : "the run stops")})");
        });
        Receive<StopTraining>(m =>
        {
            if (_ended) return;
            if (_phase == "evaluating") { End("stopped", _progress.Last?.Step ?? _s.StartStep, stopped: true, error: null); return; }
            _phase = "stopping";
            _aggregator?.Tell(m, Self);
        });
        Receive<TrainingFinished>(m =>
        {
            if (m.Stopped || _evaluator is null) { End(m.Stopped ? "stopped" : "finished", m.Step, m.Stopped, null); return; }
            _phase = "evaluating";
            AskDrain(m.Step);
        });
        // A Drain sent while the evaluator is being restarted is lost, so the question is asked again.
        Receive<DrainFinished>(m =>
        {
            if (m.Drained) End("finished", m.Step, stopped: false, error: null);
            else AskDrain(m.Step);
        });
        Receive<TrainingFailed>(m => End("failed", _progress.Last?.Step ?? _s.StartStep, stopped: false, m.Error));
        Receive<Terminated>(t => t.ActorRef.Equals(_aggregator), _ =>
            End("failed", _progress.Last?.Step ?? _s.StartStep, stopped: false, $"the parameter aggregator stopped: {_lastFailure ?? "unknown cause"}"));
        Receive<WriteStatus>(_ => Status(null));
    }

    protected override SupervisorStrategy SupervisorStrategy() => Runtime.SupervisorStrategy.StoppingStrategy;

    protected override void PreStart()
    {
        var c = _s.Config;
        var rt = c.Runtime;
        Context.System.EventStream.Subscribe(Self, typeof(ActorFailed));
        var pool = new GradientPool(_s.Parameters.Length);
        var observer = _s.Observer;

        if (c.Eval.Enabled && _s.Inputs.Eval is { } evalData)
        {
            var e = c.Eval;
            var evalSetup = new EvaluatorSetup(c.Model, evalData,
                e.ToOptions(),
                _s.Inputs.Palette, _s.Store, c.RunDir, observer);
            _evaluator = Context.ActorOf(Backoff(Props.Create(() => new EvaluatorActor(evalSetup)), "evaluator"), "evaluator");
            // Subscribed here, before the first checkpoint can be published; the supervisor forwards to the current evaluator.
            Context.System.EventStream.Subscribe(_evaluator, typeof(CheckpointSaved));
        }
        var writer = Context.ActorOf(Props.Create(() => new CheckpointWriter(_s.Store, c.Model, c.RunDir, c.Checkpoint.Keep, c.Checkpoint.ExportSafetensors)), "checkpoints");
        var aggregatorSetup = new AggregatorSetup(_s.Optimizer, _s.Sampler, _s.StartStep, c.Train.Steps, _s.Fresh, c.Checkpoint.Every,
            rt.StepDeadline, rt.MaxRestarts, _s.IdentityJson, _s.Inputs.Palette.ToJson(), c.Train.Seed, pool, _progress, observer, _s.Hooks);
        _aggregator = Context.Watch(Context.ActorOf(Props.Create(() => new ParameterAggregator(aggregatorSetup)), "aggregator"));

        int shardCapacity = (c.Train.Batch + c.Train.Shards - 1) / c.Train.Shards;
        var trainers = new IActorRef[_s.Trainers];
        for (int i = 0; i < trainers.Length; i++)
        {
            var lane = new BatchLane(i, trainers.Length, _s.Sampler, _s.StartStep, c.Train.Steps, rt.Prefetch, _s.Stopping);
            var name = i.ToString(CultureInfo.InvariantCulture);
            Context.ActorOf(Backoff(Props.Create(() => new DataLoaderActor(lane, _s.Hooks)), "loader"), $"loader-{name}");
            var trainerSetup = new TrainerSetup(i, lane, _s.Parameters, shardCapacity, rt.ThreadsPerTrainer, c.Model.Seed, pool, _aggregator, _progress, _s.Hooks,
                rt.Backend, rt.Device);
            trainers[i] = Context.ActorOf(Backoff(Props.Create(() => new TrainerActor(trainerSetup)), "trainer"), $"trainer-{name}");
        }
        _aggregator.Tell(new StartTraining(trainers, writer), Self);
        Timers.StartPeriodicTimer("status", new WriteStatus(), TimeSpan.FromSeconds(1));
    }

    private void AskDrain(long step)
    {
        var self = Self;
        _evaluator!.Ask<Drained>(new Drain(), TimeSpan.FromSeconds(30))
            .ContinueWith(t => self.Tell(new DrainFinished(step, t.IsCompletedSuccessfully), null), TaskScheduler.Default);
    }

    private Props Backoff(Props child, string name) =>
        BackoffSupervisor.Props(child, name, _s.Config.Runtime.RestartMinBackoff, _s.Config.Runtime.RestartMaxBackoff, 0.2);

    private void End(string phase, long step, bool stopped, string? error)
    {
        if (_ended) return;
        _ended = true;
        _phase = phase;
        Timers.CancelAll();
        Status(error);
        _s.Done.TrySetResult(new TrainingOutcome(step, stopped, _s.Parameters, error));
    }

    private void Status(string? error)
    {
        var last = _progress.Last;
        var status = new RunStatus(Environment.ProcessId, DateTime.UtcNow, _phase, last?.Step ?? _s.StartStep, _s.Config.Train.Steps,
            last?.Loss ?? double.NaN, last?.TokensPerSecond ?? 0, last?.DataWaitFraction ?? 0, error ?? _lastFailure, Context.System.Health());
        try { status.Write(_s.Config.RunDir); }
        catch (IOException e) { _s.Observer.Warning($"could not write {RunStatus.FileName} in {_s.Config.RunDir}: {e.Message}"); }
    }
}
