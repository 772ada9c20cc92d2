namespace ImageGpt.Actors.Runtime;

/// <summary>
/// Messages of the runtime itself (creation, supervision, termination, death watch). They travel on
/// the mailbox's system queue, which is drained before every user message, and they are handled even
/// while the actor is suspended after a failure.
/// </summary>
internal abstract class SystemMessage;

internal sealed class Create : SystemMessage
{
    public static readonly Create Instance = new();
}

/// <summary>The supervisor restarts this actor; <paramref name="ResumeAfter"/> undoes a Suspend sent just before (all-for-one siblings).</summary>
internal sealed class Recreate(Exception cause, bool resumeAfter) : SystemMessage
{
    public Exception Cause { get; } = cause;
    public bool ResumeAfter { get; } = resumeAfter;
}

/// <summary>Stop taking user messages until the matching <see cref="Resume"/>; sent down the tree when an ancestor fails.</summary>
internal sealed class Suspend : SystemMessage
{
    public static readonly Suspend Instance = new();
}

/// <summary>
/// <paramref name="causedByFailure"/>: the supervisor chose Resume for this failed actor. Otherwise it
/// undoes one <see cref="Suspend"/> sent because an ancestor failed.
/// </summary>
internal sealed class Resume(bool causedByFailure) : SystemMessage
{
    public bool CausedByFailure { get; } = causedByFailure;
}

internal sealed class Terminate : SystemMessage
{
    public static readonly Terminate Instance = new();
}

/// <summary>A child reports its failure to its parent (never to the sender of the message).</summary>
internal sealed class Failed(ActorRefBase child, Exception cause) : SystemMessage
{
    public ActorRefBase Child { get; } = child;
    public Exception Cause { get; } = cause;
}

internal sealed class Watch(ActorRefBase watchee, ActorRefBase watcher) : SystemMessage
{
    public ActorRefBase Watchee { get; } = watchee;
    public ActorRefBase Watcher { get; } = watcher;
}

internal sealed class Unwatch(ActorRefBase watchee, ActorRefBase watcher) : SystemMessage
{
    public ActorRefBase Watchee { get; } = watchee;
    public ActorRefBase Watcher { get; } = watcher;
}

/// <summary>The watched actor (or child) has terminated; the watcher turns it into <see cref="Terminated"/>.</summary>
internal sealed class DeathWatchNotification(ActorRefBase actor) : SystemMessage
{
    public ActorRefBase Actor { get; } = actor;
}

/// <summary>An await inside a ReceiveAsync handler continues on the actor's own turn.</summary>
internal sealed class RunContinuation(SendOrPostCallback callback, object? state) : SystemMessage
{
    public SendOrPostCallback Callback { get; } = callback;
    public object? State { get; } = state;
}

/// <summary>The task of a ReceiveAsync handler has completed; the actor takes user messages again.</summary>
internal sealed class AsyncHandlerDone(Task task, Envelope envelope, int incarnation) : SystemMessage
{
    public Task Task { get; } = task;
    public Envelope Envelope { get; } = envelope;
    /// <summary>A task of an instance that has since been replaced by a restart is ignored.</summary>
    public int Incarnation { get; } = incarnation;
}

/// <summary>A message plus its sender; a struct so that the channel stores it without an allocation per message.</summary>
internal readonly record struct Envelope(object Message, IActorRef? Sender);
