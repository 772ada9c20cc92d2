using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;

namespace ImageGpt.Actors.Tests.Cluster;

/// <summary>
/// Members of one run's cluster as actor systems of this process on 127.0.0.1, each with its own connection to the run's
/// SQLite store in a temporary run directory; all shut down and the directory deleted on dispose.
/// </summary>
internal sealed class ClusterMembers : IDisposable
{
    private readonly List<(ActorSystem System, RunStore Store)> _members = [];

    public string Dir { get; } = Directory.CreateTempSubdirectory("igpt-cluster-").FullName;

    /// <summary>A member configured by <paramref name="resolved"/> that will join <paramref name="seed"/>, or found the cluster.</summary>
    public ActorSystem Add(RunConfig c, Config resolved, ActorSystem? seed)
    {
        var store = RunStore.Open(c.Checkpoint, Dir);
        var options = ClusterNode.Options(c, resolved, seed is null ? [] : [ClusterNode.Endpoint(Akka.Cluster.Cluster.Get(seed).SelfAddress)]);
        var system = ClusterNode.CreateSystem(options, AkkaSettings.Build(resolved, store, cluster: options), store);
        _members.Add((system, store));
        return system;
    }

    public RunStore StoreOf(ActorSystem member) => _members.Single(m => m.System == member).Store;

    public void Dispose()
    {
        foreach (var (system, store) in _members)
        {
            system.ShutdownAsync().GetAwaiter().GetResult();
            store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Directory.Delete(Dir, recursive: true);
    }
}
