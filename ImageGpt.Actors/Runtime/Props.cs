namespace ImageGpt.Actors.Runtime;

/// <summary>
/// How to make an actor: its factory (called again on every restart, so each incarnation is a fresh
/// instance), its mailbox and the strategy it uses to supervise its own children. Immutable.
/// </summary>
public sealed class Props
{
    private readonly Func<ActorBase> _factory;

    public Type ActorType { get; }

    /// <summary>null: unbounded mailbox; otherwise the bounded mailbox's capacity.</summary>
    public int? MailboxCapacity { get; private init; }

    /// <summary>Overrides the actor's own <c>SupervisorStrategy()</c> for its children.</summary>
    public SupervisorStrategy? SupervisorStrategy { get; private init; }

    private Props(Type actorType, Func<ActorBase> factory)
    {
        ActorType = actorType;
        _factory = factory;
    }

    private Props(Props other)
    {
        ActorType = other.ActorType;
        _factory = other._factory;
        MailboxCapacity = other.MailboxCapacity;
        SupervisorStrategy = other.SupervisorStrategy;
    }

    public static Props Create<T>() where T : ActorBase, new() => new(typeof(T), static () => new T());

    /// <summary><c>Props.Create(() => new Worker(id, pool))</c>: the lambda runs once per incarnation.</summary>
    public static Props Create<T>(Func<T> factory) where T : ActorBase
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new Props(typeof(T), factory);
    }

    /// <summary>A bounded mailbox: Tell on a full one dead-letters, TellAsync waits for space.</summary>
    public Props WithMailbox(int boundedCapacity)
    {
        if (boundedCapacity < 1)
            throw new ArgumentOutOfRangeException(nameof(boundedCapacity), boundedCapacity, "a bounded mailbox holds at least 1 message");
        return new Props(this) { MailboxCapacity = boundedCapacity };
    }

    public Props WithUnboundedMailbox() => new(this) { MailboxCapacity = null };

    public Props WithSupervisorStrategy(SupervisorStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        return new Props(this) { SupervisorStrategy = strategy };
    }

    internal ActorBase NewActor() => _factory();
}
