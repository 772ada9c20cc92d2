using ImageGpt.Actors.Runtime;
using ImageGpt.Actors.TestKit;

namespace ImageGpt.Actors.Tests.Runtime;

/// <summary>One actor system per test, terminated at the end; expectations wait at most <see cref="Wait"/>.</summary>
public abstract class RuntimeTestBase : IAsyncLifetime
{
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);
    protected static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(150);

    protected ActorSystem Sys { get; } = ActorSystem.Create("test");

    protected TestProbe CreateProbe(string? name = null) => new(Sys, name);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Sys.Terminate().WaitAsync(TimeSpan.FromSeconds(10));
}

/// <summary>Echoes every message to its sender.</summary>
public sealed class EchoActor : ReceiveActor
{
    public EchoActor() => ReceiveAny(m => Sender.Tell(m, Self));
}

/// <summary>Reports its lifecycle to a probe and throws the exceptions it is sent.</summary>
public sealed class LifecycleActor : ReceiveActor
{
    private readonly IActorRef _probe;
    private int _count;

    public LifecycleActor(IActorRef probe)
    {
        _probe = probe;
        Receive<Exception>(e => throw e);
        Receive<string>(s => s == "count", _ => Sender.Tell(++_count, Self));
        Receive<string>(s => s.StartsWith("child:", StringComparison.Ordinal), s => Sender.Tell(Context.ActorOf(Props.Create(() => new LifecycleActor(_probe)), s[6..]), Self));
        Receive<string>(s => s == "stop-self", _ => Context.Stop(Self));
        Receive<string>(s => _probe.Tell($"got {s}", Self));
    }

    protected override void PreStart() => _probe.Tell($"prestart {Self.Path.Name}", Self);
    protected override void PostStop() => _probe.Tell($"poststop {Self.Path.Name}", Self);

    protected override void PreRestart(Exception reason, object? message)
    {
        _probe.Tell($"prerestart {Self.Path.Name} {reason.Message} {message?.GetType().Name}", Self);
        base.PreRestart(reason, message);
    }

    protected override void PostRestart(Exception reason)
    {
        _probe.Tell($"postrestart {Self.Path.Name} {reason.Message}", Self);
        base.PostRestart(reason);
    }
}

/// <summary>A supervisor that creates the children it is asked for, under a given strategy.</summary>
public sealed class Parent : ReceiveActor
{
    private readonly SupervisorStrategy _strategy;

    public Parent(SupervisorStrategy strategy)
    {
        _strategy = strategy;
        Receive<(Props Props, string Name)>(p => Sender.Tell(Context.ActorOf(p.Props, p.Name), Self));
        Receive<Exception>(e => throw e);
    }

    protected override SupervisorStrategy SupervisorStrategy() => _strategy;
}
