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
/// <param name="Secret">The run's secret, which the node proves it knows before its trainers are registered (<see cref="Cluster.AdmissionGate"/>);
/// null when the run's root is in this process and asks for no proof.</param>
/// <param name="Streamed">On a node without the data set (<c>Train</c> then only counts its samples): each lane's source of
/// batches streamed from a data node (<see cref="DataPlane.StreamedLaneSource"/>); null: the loaders build them from <c>Train</c>.</param>
public sealed record NodeSetup(
    RunConfig Config, ISampleSource Train, ParameterSlab Parameters, IParameterSource Source, IActorRef Coordinator, LiveProgress Progress,
    ITrainingObserver Observer, TrainingHooks? Hooks, string NamePrefix, string? Secret = null, Func<BatchSampler, DataPlane.StreamedLaneSource>? Streamed = null);

/// <summary>
/// One node's part of a run (<c>/user/node</c>): its trainers (runtime.trainers, each a model replica on its own thread)
/// and a loader per trainer, each under a backoff supervisor with the run's restart budget. It registers its trainers
/// with the run's root (in a cluster once each has proved to the other that it knows the run's secret, and again with
/// every new root: <see cref="RegisterAgain"/>) and, when the aggregator announces the run's trainers (<see cref="PlanChanged"/>), points each
/// loader at its trainer's home shards. Failures in its subtree are reported one line each; a child past its restart
/// budget stops the run.
/// </summary>
public sealed class NodeActor : MonitoredActor
{
    private readonly NodeSetup _s;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(string Name, BatchLane Lane, IActorRef Trainer)> _trainers = [];
    private readonly Dictionary<IActorRef, string> _supervised = [];
    private readonly List<DataPlane.StreamedLaneSource> _streams = [];
    private readonly Dictionary<string, string> _lastFailureOf = [];
    private readonly byte[]? _key;
    /// <summary>The nonce of the admission under way (answers that do not echo it belong to an earlier one).</summary>
    private byte[]? _nodeNonce;
    private byte[]? _rootNonce;
    /// <summary>The root this node's trainers are registered with.</summary>
    private IActorRef _root = ActorRefs.Nobody;

    public NodeActor(NodeSetup setup)
    {
        _s = setup;
        _key = setup.Secret is null ? null : DataPlane.Handshake.Key(setup.Secret);
        Receive<PlanChanged>(OnPlan);
        Receive<RegisterAgain>(_ =>
        {
            // A new root resumes from its last checkpoint, which may be behind the steps this node has seen.
            Volatile.Write(ref _s.Progress.CurrentStep, 0);
            Join(Sender);
        });
        Receive<LeaveRun>(_ =>
        {
            if (!_root.IsNobody()) _root.Tell(new NodeLeaving(Self), Self);
            Sender.Tell(Akka.Done.Instance);
        });
        Receive<Cluster.AdmissionChallenge>(m =>
        {
            if (!Current(m.NodeNonce)) return;
            _rootNonce = m.RootNonce;
            Sender.Tell(new Cluster.AdmissionProof(_nodeNonce!, Cluster.AdmissionGate.NodeProof(_key!, m.RootNonce, _nodeNonce!)), Self);
        });
        Receive<Cluster.AdmissionGranted>(m =>
        {
            if (!Current(m.NodeNonce) || _rootNonce is null) return;
            if (!Cluster.AdmissionGate.RootProved(_key!, _nodeNonce!, _rootNonce, m))
            {
                Refused($"the run's root at {Sender.Path.Address} admitted this node but could not prove it knows the run's secret: it is not this run's. " +
                    "HINT: check --seed and that every node has the same run.secret");
                return;
            }
            _nodeNonce = null;
            Register(Sender);
        });
        Receive<Cluster.AdmissionRefused>(m =>
        {
            if (Current(m.NodeNonce))
                Refused($"the run refused this node: {m.Reason}. HINT: every node of a run needs its secret: the same run.secret (or IGPT_SECRET), or the file '{RunSecret.FileName}' of the first node's run directory");
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
        var pool = GradientPools.Get(Context.System).For(_s.Parameters.Length);
        for (int i = 0; i < rt.Trainers; i++)
        {
            string local = i.ToString(CultureInfo.InvariantCulture);
            string name = $"{_s.NamePrefix}trainer-{local}";
            BatchLane lane;
            if (_s.Streamed is { } stream)
            {
                var source = stream(sampler);
                _streams.Add(source);
                lane = new BatchLane(i, sampler, source, c.Train.Steps, DataPlane.StreamedLaneSource.Capacity(rt.Prefetch), _stopping.Token);
            }
            else lane = new BatchLane(i, sampler, new LocalLaneSource(sampler), c.Train.Steps, rt.Prefetch, _stopping.Token);
            Supervise(Context.ActorOf(Supervision.Backoff(Props.Create(() => new DataLoaderActor(lane, _s.Hooks)), "loader", rt), $"loader-{local}"), $"loader-{local}");
            var trainerSetup = new TrainerSetup(i, name, lane, _s.Parameters, _s.Source, shardCapacity, rt.ThreadsPerTrainer, c.Model.Seed, pool, _s.Coordinator,
                _s.Progress, rt.StepDeadline, _s.Observer, _s.Hooks, rt.Backend, rt.Device);
            var trainer = Supervise(Context.ActorOf(Supervision.Backoff(Props.Create(() => new TrainerActor(trainerSetup)), "trainer", rt), $"trainer-{local}"), $"trainer-{local}");
            _trainers.Add((name, lane, trainer));
        }
        Join(_s.Coordinator);
    }

    /// <summary>Registers this node's trainers with <paramref name="root"/>, after the admission when the run asks for one.</summary>
    private void Join(IActorRef root)
    {
        if (_key is null)
        {
            Register(root);
            return;
        }
        _nodeNonce = Cluster.AdmissionGate.Nonce();
        _rootNonce = null;
        root.Tell(new Cluster.AdmissionHello(_nodeNonce), Self);
    }

    private bool Current(byte[] nodeNonce) => _nodeNonce is not null && nodeNonce.AsSpan().SequenceEqual(_nodeNonce);

    private void Register(IActorRef root)
    {
        _root = root;
        foreach (var (name, _, trainer) in _trainers) root.Tell(new RegisterTrainer(name, trainer, Self), Self);
    }

    /// <summary>This node may not take part: it ends its part of the run, and its process says why.</summary>
    private void Refused(string why)
    {
        _nodeNonce = null;
        Context.System.ActorSelection($"/user/{Cluster.RunWatcher.Name}").Tell(new RunEnded(-1, false, why, Refused: true));
        // Out of the cluster at once, gracefully (the root downs a refused node that stays).
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        cluster.Leave(cluster.SelfAddress);
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        // Each stream's data node sees its connection close and frees it.
        foreach (var stream in _streams) _ = stream.DisposeAsync().AsTask();
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
