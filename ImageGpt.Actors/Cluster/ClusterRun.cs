using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// What one node brings to a run's cluster. <c>Inputs</c> is null on a node without the data set (role trainer only),
/// whose trainers' batches are then streamed from the data node <c>StreamFrom</c> (<see cref="DataNodes.FindAsync"/>).
/// </summary>
public sealed record ClusterNodeSetup(
    RunConfig Config, TrainingInputs? Inputs, RunStore Store, string IdentityJson, ITrainingObserver Observer, TrainingHooks? Hooks = null,
    BatchesServed? StreamFrom = null);

/// <summary>
/// Starts a run's actors on one member of its cluster (Akka.Cluster): on a node with the aggregator role, the
/// <see cref="ClusterSingletonManager"/> that runs the run's root (<see cref="RunActor"/>: aggregator, checkpoint writer,
/// evaluator, history) on the oldest such node, behind a lease in the run's database; on every node, a proxy to it and
/// <c>/user/run-watch</c>, which learns the run's end; on a node with the data role, the run's batches served on its data
/// plane (<see cref="DataNodeActor"/> says where); on a node with the trainer role, its trainers and loaders
/// (<see cref="NodeActor"/>) working on a replica of the parameters, their batches streamed from a data node when this
/// node has no data set.
/// </summary>
public static class ClusterRun
{
    public const string SingletonManager = "run-singleton";
    public const string Singleton = "run";
    public const string Proxy = "run-proxy";
    public const string AggregatorRole = "aggregator";
    public const string TrainerRole = "trainer";
    public const string DataRole = "data";

    /// <summary>Starts this member's part; the task completes when the run ends (wherever its root runs).</summary>
    public static Task<RunEnded> Start(ActorSystem system, ClusterNodeSetup s)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        string secret = RunSecret.Resolve(s.Config);
        var plane = NodeDataPlane.Get(system);
        // On the address remoting binds (and advertises), so a node reachable for control messages is for tensors too.
        var remoting = system.Settings.Config.GetConfig("akka.remote.dot-netty.tcp");
        string publicHost = remoting.GetString("public-hostname", "");
        plane.Start(system, new DataPlane.DataPlaneOptions
        {
            Secret = secret,
            Host = remoting.GetString("hostname", "127.0.0.1"),
            PublicHost = publicHost.Length > 0 ? publicHost : null,
            Port = (s.Config.Cluster ?? throw new ArgumentException("the config has no cluster settings", nameof(s))).DataPlanePort,
            Log = s.Observer.Warning,
        });
        var ended = new TaskCompletionSource<RunEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new RunWatcher(ended)), RunWatcher.Name);
        IActorRef? proxyRef = null;
        // Once the run is over nothing is sent to its root, so the proxy need not look for it while the system shuts down.
        ended.Task.ContinueWith(_ => { if (proxyRef is not null) system.Stop(proxyRef); }, TaskScheduler.Default);
        var roles = cluster.SelfRoles;
        if (roles.Contains(AggregatorRole))
        {
            if (s.Inputs is null) throw new InvalidOperationException("a node with the aggregator role needs the data set (for evaluations)");
            var inputs = s.Inputs;
            system.ActorOf(ClusterSingletonManager.Props(
                Props.Create(() => new RunActor(NewRoot(s, inputs))),
                HandOver.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(AggregatorRole).WithSingletonName(Singleton)), SingletonManager);
        }
        var proxy = system.ActorOf(ClusterSingletonProxy.Props($"/user/{SingletonManager}",
            ClusterSingletonProxySettings.Create(system).WithRole(AggregatorRole).WithSingletonName(Singleton)), Proxy);
        proxyRef = proxy;
        var c = s.Config;
        if (roles.Contains(DataRole))
        {
            if (s.Inputs is null) throw new InvalidOperationException("a node with the data role needs the data set");
            plane.Server.ServeBatches(new DataPlane.SamplerBatchSource(new BatchSampler(s.Inputs.Train, c.Train.Batch, c.Train.Shards, c.Train.Seed)));
            var served = new BatchesServed(plane.Server.Endpoint, s.Inputs.Train.Count, s.Inputs.Train.T);
            system.ActorOf(Props.Create(() => new DataNodeActor(served)), DataNodeActor.Name);
        }
        if (roles.Contains(TrainerRole))
        {
            int trainers = Math.Min(c.Runtime.Trainers, c.Train.Shards);
            var replica = new ParameterSlab(c.Model);
            var source = new ReplicaParameters(LocalAggregators.Get(system), c.RunId, replica, plane.Client);
            ISampleSource train;
            Func<BatchSampler, DataPlane.StreamedLaneSource>? streamed = null;
            if (s.Inputs is not null) train = s.Inputs.Train;
            else if (s.StreamFrom is { } from)
            {
                train = new DataPlane.StreamedSamples(from.Samples, from.T);
                // Should that data node fail, the one that answers then.
                var timeout = c.Cluster!.JoinTimeout;
                async Task<DataPlane.DataPlaneEndpoint> Find() => (await DataNodes.FindAsync(system, timeout)).Endpoint;
                streamed = sampler => new DataPlane.StreamedLaneSource(plane.Client, from.Endpoint, Find, sampler, c.Train.Steps);
            }
            else throw new InvalidOperationException("a trainer node without the data set needs a data node to stream its batches from (DataNodes.FindAsync)");
            var nodeSetup = new NodeSetup(c with { Runtime = c.Runtime with { Trainers = trainers } }, train, replica, source, proxy,
                new LiveProgress(), s.Observer, s.Hooks, $"{ClusterNode.Endpoint(cluster.SelfAddress)}/", secret, streamed);
            var node = system.ActorOf(Props.Create(() => new NodeActor(nodeSetup)), "node");
            // A node that shuts down (Ctrl-C, SIGTERM) says so before its trainers stop, so that their shards move at once.
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeClusterShutdown, "leave-the-run", () =>
                node.Ask<Akka.Done>(LeaveRun.Instance, TimeSpan.FromSeconds(2)).ContinueWith(_ => Akka.Done.Instance, TaskScheduler.Default));
        }
        return ended.Task;
    }

    /// <summary>A new root for this node: created by the singleton manager whenever the run comes (back) to it.</summary>
    private static RunSetup NewRoot(ClusterNodeSetup s, TrainingInputs inputs) =>
        new(s.Config, inputs, s.Store.Blobs, s.Observer, s.Hooks, new ParameterSlab(s.Config.Model), new LiveProgress(), s.IdentityJson,
            new TaskCompletionSource<TrainingOutcome>(TaskCreationOptions.RunContinuationsAsynchronously), Clustered: true);
}
