namespace ImageGpt.Actors.Runtime;

/// <summary>
/// A handle to an actor. <see cref="Path"/> names it; <c>Path.Uid</c> identifies the incarnation, so
/// two refs are equal only when both match. <see cref="Tell"/> never blocks.
/// </summary>
public interface IActorRef
{
    ActorPath Path { get; }

    /// <param name="sender">who the receiver sees as <c>Sender</c>; null means no sender (replies go to dead letters)</param>
    void Tell(object message, IActorRef? sender);
}

/// <summary>
/// The refs of this runtime: besides user messages they take system messages (watch, terminate,
/// supervision). Only this assembly derives from it.
/// </summary>
public abstract class ActorRefBase : IActorRef, IEquatable<ActorRefBase>
{
    private protected ActorRefBase() { }

    public abstract ActorPath Path { get; }
    public abstract void Tell(object message, IActorRef? sender);
    internal abstract void SendSystemMessage(SystemMessage message);
    internal abstract ActorSystem? System { get; }

    public bool Equals(ActorRefBase? other) =>
        other is not null && Path.Uid == other.Path.Uid && Path.Equals(other.Path);

    public override bool Equals(object? obj) => obj is ActorRefBase r && Equals(r);
    public override int GetHashCode() => HashCode.Combine(Path, Path.Uid);
    public override string ToString() => $"Actor[{Path.ToStringWithUid()}]";
}

/// <summary>A ref to an actor of this process, backed by its <see cref="ActorCell"/>.</summary>
internal sealed class LocalActorRef(ActorCell cell, ActorPath path) : ActorRefBase
{
    public ActorCell Cell { get; } = cell;
    public override ActorPath Path { get; } = path;
    internal override ActorSystem System => Cell.System;

    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = new Envelope(message, sender);
        if (!Cell.Mailbox.TryPost(envelope)) Cell.DeadLetter(envelope);
    }

    internal override void SendSystemMessage(SystemMessage message) => Cell.Mailbox.PostSystem(message);

    public async ValueTask<bool> TellAsync(object message, IActorRef? sender, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = new Envelope(message, sender);
        if (Cell.Mailbox.TryPost(envelope)) return true;
        if (Cell.Mailbox.Capacity is not null && await Cell.Mailbox.PostAsync(envelope, cancellationToken).ConfigureAwait(false))
            return true;
        Cell.DeadLetter(envelope);
        return false;
    }
}

/// <summary>
/// Where messages for stopped actors (and for full bounded mailboxes) go: counted and published on
/// the event stream as <see cref="DeadLetter"/>. Watching it reports it dead at once.
/// </summary>
internal sealed class DeadLetterActorRef(ActorSystem system) : ActorRefBase
{
    private long _count;

    public override ActorPath Path { get; } = ActorPath.Root(system.Name).Child("deadLetters");
    internal override ActorSystem System { get; } = system;
    public long Count => Interlocked.Read(ref _count);

    public override void Tell(object message, IActorRef? sender) => Publish(message, sender, this);

    public void Publish(object message, IActorRef? sender, IActorRef recipient)
    {
        Interlocked.Increment(ref _count);
        // A dead letter about a dead letter would loop when a subscriber itself is gone.
        if (message is DeadLetter) return;
        System.EventStream.Publish(new DeadLetter(message, sender ?? this, recipient));
    }

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch w) w.Watcher.SendSystemMessage(new DeathWatchNotification(this));
    }
}

/// <summary>The ref behind an Ask: completes the task with the first reply.</summary>
internal sealed class PromiseActorRef<T> : ActorRefBase
{
    private readonly TaskCompletionSource<T> _promise = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IActorRef _target;

    public PromiseActorRef(ActorSystem system, IActorRef target, long uid)
    {
        System = system;
        _target = target;
        Path = ActorPath.Root(system.Name).Child("temp").Child("$ask" + uid.ToString(global::System.Globalization.CultureInfo.InvariantCulture), uid);
    }

    public override ActorPath Path { get; }
    internal override ActorSystem System { get; }
    public Task<T> Task => _promise.Task;

    public override void Tell(object message, IActorRef? sender)
    {
        bool done = message switch
        {
            Status.Failure f => _promise.TrySetException(f.Cause),
            T t => _promise.TrySetResult(t),
            Status.Success { Value: T v } => _promise.TrySetResult(v),
            _ => _promise.TrySetException(new InvalidCastException(
                $"ask of {_target.Path} expected a reply of type {typeof(T).Name} but got {message.GetType().Name}")),
        };
        if (!done) System.DeadLetterRef.Publish(message, sender, this);
    }

    public void TimeOut(TimeSpan timeout) =>
        _promise.TrySetException(new AskTimeoutException($"ask of {_target.Path} timed out after {timeout.TotalMilliseconds} ms"));

    public void Cancel(CancellationToken token) => _promise.TrySetCanceled(token);

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch w && _promise.Task.IsCompleted) w.Watcher.SendSystemMessage(new DeathWatchNotification(this));
    }
}

/// <summary>Ways to send: the implicit sender, forwarding, backpressured sends.</summary>
public static class ActorRefExtensions
{
    /// <summary>Sends with the current actor as sender when called inside an actor, else with no sender.</summary>
    public static void Tell(this IActorRef target, object message) => target.Tell(message, ActorCell.Current?.Self);

    /// <summary>Sends keeping the original sender of the message being processed (inside an actor only).</summary>
    public static void Forward(this IActorRef target, object message)
    {
        ActorCell cell = ActorCell.Current
            ?? throw new InvalidOperationException("Forward is called from inside an actor's receive; elsewhere use Tell(message, sender)");
        target.Tell(message, cell.CurrentSender);
    }

    /// <summary>
    /// Like Tell, but on a full bounded mailbox waits for space (backpressure) instead of dead-lettering.
    /// Returns false when the receiver is gone and the message went to dead letters.
    /// </summary>
    public static ValueTask<bool> TellAsync(this IActorRef target, object message, IActorRef? sender = null, CancellationToken cancellationToken = default)
    {
        if (target is LocalActorRef local) return local.TellAsync(message, sender, cancellationToken);
        target.Tell(message, sender);
        return ValueTask.FromResult(true);
    }

    /// <summary>Sends and waits for one reply of type <typeparamref name="T"/>; a <see cref="Status.Failure"/> reply fails the task with its cause.</summary>
    public static Task<T> Ask<T>(this IActorRef target, object message, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "an Ask needs a positive timeout");
        ActorSystem system = (target as ActorRefBase)?.System
            ?? throw new ArgumentException($"cannot Ask {target.Path}: it belongs to no actor system", nameof(target));
        var promise = new PromiseActorRef<T>(system, target, system.NextUid());
        ICancelable timer = system.Scheduler.ScheduleOnce(timeout, () => promise.TimeOut(timeout));
        CancellationTokenRegistration registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(() => promise.Cancel(cancellationToken))
            : default;
        promise.Task.ContinueWith(static (_, s) =>
        {
            var (t, r) = ((ICancelable, CancellationTokenRegistration))s!;
            t.Cancel();
            r.Dispose();
        }, (timer, registration), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        target.Tell(message, promise);
        return promise.Task;
    }

    public static Task<object> Ask(this IActorRef target, object message, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        target.Ask<object>(message, timeout, cancellationToken);
}
