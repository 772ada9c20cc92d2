using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.Training;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// <c>/user/run-watch</c> on every member of a run's cluster: the run's root tells it when the run has ended, wherever
/// the root runs, so that each process can finish with the run's outcome.
/// </summary>
public sealed class RunWatcher : MonitoredActor
{
    public const string Name = "run-watch";

    public RunWatcher(TaskCompletionSource<RunEnded> ended) => Receive<RunEnded>(m => ended.TrySetResult(m));

    /// <summary>Tells <paramref name="message"/> to the actor <c>/user/{actor}</c> of every member of the cluster.</summary>
    public static void TellAll(ActorSystem system, string actor, object message)
    {
        foreach (var member in Akka.Cluster.Cluster.Get(system).State.Members)
            system.ActorSelection(new RootActorPath(member.Address) / "user" / actor).Tell(message);
    }
}
