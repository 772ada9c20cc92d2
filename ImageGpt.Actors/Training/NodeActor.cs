using System.Globalization;
using Akka.Actor;
using Akka.Event;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>What a node contributes to a run: its trainers, fed by its loaders from <c>Train</c>.</summary>
/// <param name="Coordinator">The run's root (its <see cref="RunActor"/>, or the cluster singleton's proxy): trainers register through it.</param>
/// <param name="Parameters">The parameters the trainers read: the aggregator's own slab in its process, a replica elsewhere.</param>
/// <param name="Source">Brings <c>Parameters</c> to a step's version (nothing to do when they are the aggregator's own slab).</param>
/// <param name="NamePrefix">Prefixes trainer names so that they are unique in the run ("" on a single node).</param>
public sealed record NodeSetup(
    RunConfig Config, ISampleSource Train, ParameterSlab Parameters, IParameterSource Source, IActorRef Coordinator, LiveProgress Progress,
    ITrainingObserver Observer, TrainingHooks? Hooks, string NamePrefix);

/// <summary>
/// One node's part of a run (<c>/user/node</c>): its trainers (runtime.trainers, each a model replica on its own thread)
/// and a loader per trainer, each under a backoff supervisor with the run's restart budget. It registers its trainers
/// with the aggregator and, when the aggregator announces the run's trainers (<see cref="PlanChanged"/>), points each
/// loader at its trainer's home shards. Failures in its subtree are reported one line each; a child past its restart
/// budget stops the run.
/// </summary>
public sealed class NodeActor : MonitoredActor
{
    private readonly NodeSetup _s;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(string Name, BatchLane Lane, IActorRef Trainer)> _trainers = [];
    private readonly Dictionary<IActorRef, string> _supervised = [];
    private readonly Dictionary<string, string> _lastFailureOf = [];

    public NodeActor(NodeSetup setup)
    {
        _s = setup;
        Receive<PlanChanged>(OnPlan);
        Receive<RegisterAgain>(_ =>
        {
            // A new root resumes from its last checkpoint, which may be behind the steps this node has seen.
            Volatile.Write(ref _s.Progress.CurrentStep, 0);
            foreach (var (name, _, trainer) in _trainers) _s.Coordinator.Tell(new RegisterTrainer(name, trainer, Self), Self);
        });
        Receive<Error>(e =>
        {
            if (e.Cause is not null && typeof(SupervisorStrategy).IsAssignableFrom(e.LogClass) && e.LogSource.StartsWith(Self.Path + "/", StringComparison.Ordinal))
                OnChildFailure(e);
        });
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
    }

    protected override void PreStart()
    {
        var c = _s.Config;
        var rt = c.Runtime;
        Context.System.EventStream.Subscribe(Self, typeof(Error));
        var sampler = new BatchSampler(_s.Train, c.Train.Batch, c.Train.Shards, c.Train.Seed);
        int shardCapacity = (c.Train.Batch + c.Train.Shards - 1) / c.Train.Shards;
        var pool = new GradientPool(_s.Parameters.Length);
        for (int i = 0; i < rt.Trainers; i++)
        {
            string local = i.ToString(CultureInfo.InvariantCulture);
            string name = $"{_s.NamePrefix}trainer-{local}";
            var lane = new BatchLane(i, sampler, c.Train.Steps, rt.Prefetch, _stopping.Token);
            Supervise(Context.ActorOf(Supervision.Backoff(Props.Create(() => new DataLoaderActor(lane, _s.Hooks)), "loader", rt), $"loader-{local}"), $"loader-{local}");
            var trainerSetup = new TrainerSetup(i, name, lane, _s.Parameters, _s.Source, shardCapacity, rt.ThreadsPerTrainer, c.Model.Seed, pool, _s.Coordinator,
                _s.Progress, rt.StepDeadline, _s.Observer, _s.Hooks, rt.Backend, rt.Device);
            var trainer = Supervise(Context.ActorOf(Supervision.Backoff(Props.Create(() => new TrainerActor(trainerSetup)), "trainer", rt), $"trainer-{local}"), $"trainer-{local}");
            _trainers.Add((name, lane, trainer));
            _s.Coordinator.Tell(new RegisterTrainer(name, trainer, Self), Self);
        }
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private IActorRef Supervise(IActorRef supervisor, string name)
    {
        Context.Watch(supervisor);
        _supervised[supervisor] = name;
        return supervisor;
    }

    private void OnPlan(PlanChanged m)
    {
        foreach (var (name, lane, _) in _trainers)
        {
            int index = m.Trainers.ToList().IndexOf(name);
            if (index >= 0) lane.Replan(m.FromStep, index, m.Trainers.Count);
        }
    }

    private void OnChildFailure(Error e)
    {
        string path = e.LogSource[(Self.Path.ToString().Length + 1)..];
        string what = $"{e.Cause!.GetType().Name}: {e.Cause.Message}";
        _lastFailureOf[path.Split('/')[0]] = what;
        _s.Observer.Warning($"{_s.NamePrefix}{path} failed: {what} (restarted after a backoff while runtime.restart.max-restarts allows)");
    }

    /// <summary>A backoff supervisor stops itself when its child has failed past the budget: the run cannot count on that child, so it stops.</summary>
    private void OnTerminated(IActorRef supervisor)
    {
        if (!_supervised.TryGetValue(supervisor, out string? name)) return;
        var rt = _s.Config.Runtime;
        HealthRegistry.Get(Context.System).MarkFailed($"{supervisor.Path}/{name.Split('-')[0]}");
        string last = _lastFailureOf.GetValueOrDefault(name) ?? "no failure was reported";
        _s.Coordinator.Tell(new TrainingFailed(
            $"{_s.NamePrefix}{name} failed more than runtime.restart.max-restarts = {rt.MaxRestarts} times within {rt.RestartWindow.TotalSeconds:0.#} s (last: {last}). " +
            "HINT: fix the cause, or raise runtime.restart.max-restarts; --resume continues from the last checkpoint"), Self);
    }
}
