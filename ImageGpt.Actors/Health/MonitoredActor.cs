using Akka.Actor;
using Akka.Persistence;

namespace ImageGpt.Actors.Health;

/// <summary>A <see cref="ReceiveActor"/> whose incarnations, messages and stops the <see cref="HealthRegistry"/> sees.</summary>
public abstract class MonitoredActor : ReceiveActor
{
    private HealthRegistry.Entry? _health;

    public override void AroundPreStart()
    {
        _health = HealthRegistry.Get(Context.System).Started(Self.Path.ToString(), GetType(), (ActorCell)Context);
        base.AroundPreStart();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        _health?.Received();
        return base.AroundReceive(receive, message);
    }

    public override void AroundPostStop()
    {
        base.AroundPostStop();
        _health?.Stop();
    }
}

/// <summary>The same for a <see cref="ReceivePersistentActor"/>.</summary>
public abstract class MonitoredPersistentActor : ReceivePersistentActor
{
    private HealthRegistry.Entry? _health;

    public override void AroundPreStart()
    {
        _health = HealthRegistry.Get(Context.System).Started(Self.Path.ToString(), GetType(), (ActorCell)Context);
        base.AroundPreStart();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        _health?.Received();
        return base.AroundReceive(receive, message);
    }

    public override void AroundPostStop()
    {
        base.AroundPostStop();
        _health?.Stop();
    }
}
