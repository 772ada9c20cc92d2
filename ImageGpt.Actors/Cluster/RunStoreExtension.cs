using Akka.Actor;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// The run's store as an extension of the actor system, for what Akka itself creates by reflection and so cannot be
/// handed the store: the lease of the singleton and of the split-brain resolver (<see cref="SqlLease"/>).
/// </summary>
public sealed class RunStoreExtension : IExtension
{
    private RunStore? _store;

    public static RunStoreExtension Get(ActorSystem system) => system.WithExtension<RunStoreExtension, RunStoreExtensionProvider>();

    public RunStore Store
    {
        get => _store ?? throw new InvalidOperationException("no run store is attached to this actor system (RunStoreExtension.Attach)");
        private set => _store = value;
    }

    public void Attach(RunStore store) => Store = store;
}

public sealed class RunStoreExtensionProvider : ExtensionIdProvider<RunStoreExtension>
{
    public override RunStoreExtension CreateExtension(ExtendedActorSystem system) => new();
}
