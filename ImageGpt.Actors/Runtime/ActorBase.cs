namespace ImageGpt.Actors.Runtime;

/// <summary>A behaviour: handles the message and returns true, or returns false for unhandled.</summary>
public delegate bool Behavior(object message);

/// <summary>What an actor can do with the runtime; valid only on the actor's own turn.</summary>
public interface IActorContext
{
    IActorRef Self { get; }
    /// <summary>The sender of the message being processed; dead letters when it had none.</summary>
    IActorRef Sender { get; }
    IActorRef Parent { get; }
    ActorSystem System { get; }
    Props Props { get; }

    /// <summary>Creates a child; <paramref name="name"/> must be unique among the live children (null: a generated <c>$n</c>).</summary>
    IActorRef ActorOf(Props props, string? name = null);
    IActorRef? Child(string name);
    IReadOnlyList<IActorRef> GetChildren();

    /// <summary>Stops a child (or Self) after the current message; its children stop first, then PostStop runs.</summary>
    void Stop(IActorRef actor);

    /// <summary>Delivers <see cref="Terminated"/> when <paramref name="actor"/> stops, at once if it is already dead.</summary>
    IActorRef Watch(IActorRef actor);
    IActorRef Unwatch(IActorRef actor);

    /// <summary>Replaces the current behaviour.</summary>
    void Become(Behavior behavior);
    /// <summary>Pushes a behaviour; <see cref="UnbecomeStacked"/> returns to the previous one.</summary>
    void BecomeStacked(Behavior behavior);
    void UnbecomeStacked();
}

/// <summary>
/// The base of every actor. Instances are made by the runtime from <see cref="Props"/> (never with
/// <c>new</c> outside it), one per incarnation; a restart makes a new one.
/// </summary>
public abstract class ActorBase
{
    private readonly ActorCell _cell;

    protected ActorBase()
    {
        _cell = ActorCell.Current is { IsCreatingActor: true } cell
            ? cell
            : throw new InvalidOperationException(
                $"{GetType().Name} was created with 'new'. HINT: actors are created by system.ActorOf(Props.Create<{GetType().Name}>()) or Context.ActorOf");
        _cell.ClaimActor(this);
    }

    protected IActorContext Context => _cell;
    protected IActorRef Self => _cell.Self;
    protected IActorRef Sender => _cell.Sender;

    /// <summary>Timers owned by this actor: keyed, replaced by key, cancelled when it stops or restarts.</summary>
    protected ITimerScheduler Timers => _cell.Timers;

    /// <summary>Handles a message; false means unhandled (see <see cref="Unhandled"/>).</summary>
    protected internal abstract bool Receive(object message);

    protected virtual void PreStart() { }
    protected virtual void PostStop() { }

    /// <summary>On the failed instance before it is replaced. Default: stop all children, then PostStop.</summary>
    protected virtual void PreRestart(Exception reason, object? message)
    {
        foreach (IActorRef child in Context.GetChildren()) Context.Stop(child);
        PostStop();
    }

    /// <summary>On the new instance after a restart. Default: PreStart.</summary>
    protected virtual void PostRestart(Exception reason) => PreStart();

    /// <summary>How this actor supervises its children (evaluated once per incarnation). Default: restart, unlimited.</summary>
    protected virtual SupervisorStrategy SupervisorStrategy() => Runtime.SupervisorStrategy.Default;

    /// <summary>An unhandled <see cref="Terminated"/> is a death pact (this actor fails); anything else is published.</summary>
    protected virtual void Unhandled(object message)
    {
        if (message is Terminated t) throw new DeathPactException(t.ActorRef);
        _cell.System.EventStream.Publish(new UnhandledMessage(message, _cell.Sender, _cell.Self));
    }

    internal void AroundPreStart() => PreStart();
    internal void AroundPostStop() => PostStop();
    internal void AroundPreRestart(Exception reason, object? message) => PreRestart(reason, message);
    internal void AroundPostRestart(Exception reason) => PostRestart(reason);
    internal SupervisorStrategy AroundSupervisorStrategy() => SupervisorStrategy();
    internal void AroundUnhandled(object message) => Unhandled(message);
    internal bool AroundReceive(object message) => Receive(message);

    /// <summary>Called by the runtime right after the constructor returned.</summary>
    internal virtual void AfterConstruction() { }
}
