namespace ImageGpt.Actors.Runtime;

/// <summary>An actor's constructor, PreStart or PostRestart threw; the default decider stops such an actor.</summary>
public sealed class ActorInitializationException(IActorRef? actor, string message, Exception? cause)
    : Exception(message, cause)
{
    public IActorRef? Actor { get; } = actor;
}

/// <summary>Thrown inside an actor that received <see cref="Kill"/>; the default decider stops it.</summary>
public sealed class ActorKilledException(string message) : Exception(message);

/// <summary>An actor watched another and did not handle its <see cref="Terminated"/>; the default decider stops it.</summary>
public sealed class DeathPactException(IActorRef deadActor)
    : Exception($"monitored actor {deadActor.Path} terminated and the watcher did not handle Terminated")
{
    public IActorRef DeadActor { get; } = deadActor;
}

/// <summary>An Ask got no reply within its timeout.</summary>
public sealed class AskTimeoutException(string message) : TimeoutException(message);

/// <summary>A child name is empty, malformed or already taken under the same parent.</summary>
public sealed class InvalidActorNameException(string message) : ArgumentException(message);
