namespace ImageGpt.Actors.Runtime;

/// <summary>Stops the actor once it reaches this message: the messages queued before it are processed first.</summary>
public sealed class PoisonPill
{
    public static readonly PoisonPill Instance = new();
    private PoisonPill() { }
}

/// <summary>Makes the actor fail with <see cref="ActorKilledException"/>; its supervisor decides (default: stop).</summary>
public sealed class Kill
{
    public static readonly Kill Instance = new();
    private Kill() { }
}

/// <summary>Delivered to a watcher when the actor it watches has stopped (or was already dead at watch time).</summary>
public sealed record Terminated(IActorRef ActorRef);

/// <summary>Replies that carry success or failure; an Ask completed with <see cref="Failure"/> fails its task with the cause.</summary>
public static class Status
{
    public sealed record Success(object? Value);
    public sealed record Failure(Exception Cause);
}

/// <summary>A message that no live actor could take (stopped recipient or full bounded mailbox); published on the event stream.</summary>
public sealed record DeadLetter(object Message, IActorRef Sender, IActorRef Recipient);

/// <summary>A message that the actor's current behaviour did not match; published on the event stream.</summary>
public sealed record UnhandledMessage(object Message, IActorRef Sender, IActorRef Recipient);

/// <summary>
/// An actor threw. Published on the event stream when the failure happens (before the supervisor
/// decides), so that tests and the health view can see every failure; the sender is never told.
/// </summary>
public sealed record ActorFailed(IActorRef Actor, Type ActorType, Exception Cause, DateTime AtUtc);
