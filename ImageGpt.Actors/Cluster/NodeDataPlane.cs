using Akka.Actor;
using ImageGpt.Actors.DataPlane;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// This member's data plane (one server, one client), as an extension of its actor system so that the run's root and
/// the node's trainers find it. It exists only on members of a cluster; a run on one process moves no tensor over it.
/// </summary>
public sealed class NodeDataPlane : IExtension
{
    private DataPlaneServer? _server;
    private DataPlaneClient? _client;

    public static NodeDataPlane Get(ActorSystem system) => system.WithExtension<NodeDataPlane, NodeDataPlaneProvider>();

    public bool Started => _server is not null;

    public DataPlaneServer Server => _server ?? throw new InvalidOperationException("the data plane of this member is not started");

    public DataPlaneClient Client => _client ?? throw new InvalidOperationException("the data plane of this member is not started");

    /// <summary>Binds the server and makes the client; they are disposed when the actor system terminates.</summary>
    public void Start(ActorSystem system, DataPlaneOptions options)
    {
        _server = new DataPlaneServer(options);
        _client = new DataPlaneClient(options);
        system.RegisterOnTermination(() =>
        {
            _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
    }
}

public sealed class NodeDataPlaneProvider : ExtensionIdProvider<NodeDataPlane>
{
    public override NodeDataPlane CreateExtension(ExtendedActorSystem system) => new();
}
