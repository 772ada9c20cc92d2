using Akka.Actor;
using Akka.Actor.Setup;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// The run's store, handed to an actor system when it is created, for what Akka itself creates by reflection while the
/// system starts and so cannot be handed the store otherwise: the leases of the split-brain resolver and of the
/// singleton (<see cref="SqlLease"/>).
/// </summary>
public sealed class RunStoreSetup(RunStore store) : Setup
{
    public RunStore Store { get; } = store;

    /// <summary>An actor system named <paramref name="name"/> with <paramref name="config"/> and the run's store.</summary>
    public static ActorSystem CreateSystem(string name, Akka.Configuration.Config config, RunStore store) =>
        ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(new RunStoreSetup(store)));

    public static RunStore Of(ActorSystem system) =>
        system.Settings.Setup.Get<RunStoreSetup>().Value?.Store
        ?? throw new InvalidOperationException("this actor system was created without the run's store (RunStoreSetup.CreateSystem)");
}
