using Akka.Actor;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Cluster;

/// <summary>A node without the data set → a data node's <c>/user/data</c>: where do you serve batches?</summary>
public sealed record WhereAreBatches
{
    public static readonly WhereAreBatches Instance = new();
}

/// <summary>
/// A data node's answer: its data-plane server streams the run's batches (a peer must still prove it knows the run's
/// secret there), made from <c>Samples</c> training samples of <c>T</c> tokens, which a node without the data set needs to
/// name the shards of a step.
/// </summary>
public sealed record BatchesServed(DataPlaneEndpoint Endpoint, int Samples, int T);

/// <summary><c>/user/data</c> on a member with the data role: tells trainer nodes without the data set where its batches are served.</summary>
public sealed class DataNodeActor : MonitoredActor
{
    public const string Name = "data";

    public DataNodeActor(BatchesServed served) => Receive<WhereAreBatches>(_ => Sender.Tell(served));
}
