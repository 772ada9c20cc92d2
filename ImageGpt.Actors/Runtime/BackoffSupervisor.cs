namespace ImageGpt.Actors.Runtime;

/// <summary>
/// Keeps one child alive: when the child fails it is stopped (the decider says Stop for every
/// exception) and started again, from its Props, after an exponential backoff
/// <c>min(max, min·2^n)·(1 + random·randomFactor)</c>, where n counts the restarts since the child
/// last ran for <c>minBackoff</c> without stopping. Messages sent to the supervisor are forwarded to the
/// current child (dead letters while it is down). Like Akka's BackoffSupervisor with a stopping decider,
/// a child that stops by itself is restarted the same way.
/// </summary>
public sealed class BackoffSupervisor : ReceiveActor
{
    /// <summary>Replies <see cref="CurrentChild"/>.</summary>
    public sealed record GetCurrentChild;
    public sealed record CurrentChild(IActorRef? Ref);
    /// <summary>Replies <see cref="RestartCount"/>.</summary>
    public sealed record GetRestartCount;
    public sealed record RestartCount(int Count);

    private sealed record StartChild;
    private sealed record ResetRestartCount(int Current);

    private readonly Props _childProps;
    private readonly string _childName;
    private readonly TimeSpan _minBackoff;
    private readonly TimeSpan _maxBackoff;
    private readonly double _randomFactor;
    private IActorRef? _child;
    private int _restartCount;

    public static Props Props(Props childProps, string childName, TimeSpan minBackoff, TimeSpan maxBackoff, double randomFactor)
    {
        ArgumentNullException.ThrowIfNull(childProps);
        ArgumentException.ThrowIfNullOrEmpty(childName);
        if (minBackoff <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(minBackoff), minBackoff, "must be positive");
        if (maxBackoff < minBackoff) throw new ArgumentOutOfRangeException(nameof(maxBackoff), maxBackoff, "must be at least minBackoff");
        if (randomFactor is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(randomFactor), randomFactor, "must be in [0, 1]");
        return Runtime.Props.Create(() => new BackoffSupervisor(childProps, childName, minBackoff, maxBackoff, randomFactor));
    }

    /// <summary>The delay before restart number <paramref name="restartCount"/> (0 for the first); <paramref name="random01"/> in [0, 1).</summary>
    public static TimeSpan Delay(int restartCount, TimeSpan minBackoff, TimeSpan maxBackoff, double randomFactor, double random01)
    {
        double ms = restartCount >= 30
            ? maxBackoff.TotalMilliseconds
            : Math.Min(maxBackoff.TotalMilliseconds, minBackoff.TotalMilliseconds * Math.Pow(2, restartCount));
        return TimeSpan.FromMilliseconds(ms * (1 + random01 * randomFactor));
    }

    private BackoffSupervisor(Props childProps, string childName, TimeSpan minBackoff, TimeSpan maxBackoff, double randomFactor)
    {
        _childProps = childProps;
        _childName = childName;
        _minBackoff = minBackoff;
        _maxBackoff = maxBackoff;
        _randomFactor = randomFactor;

        Receive<StartChild>(_ => Start());
        Receive<ResetRestartCount>(r => { if (r.Current == _restartCount) _restartCount = 0; });
        Receive<Terminated>(t => t.ActorRef.Equals(_child), _ =>
        {
            _child = null;
            TimeSpan delay = Delay(_restartCount, _minBackoff, _maxBackoff, _randomFactor, Random.Shared.NextDouble());
            _restartCount++;
            Timers.Cancel("reset");
            Timers.StartSingleTimer("backoff", new StartChild(), delay);
        });
        Receive<GetCurrentChild>(_ => Sender.Tell(new CurrentChild(_child), Self));
        Receive<GetRestartCount>(_ => Sender.Tell(new RestartCount(_restartCount), Self));
        ReceiveAny(m =>
        {
            if (_child is not null) _child.Forward(m);
            else Context.System.DeadLetters.Tell(m, Sender);
        });
    }

    protected override void PreStart() => Start();

    protected override SupervisorStrategy SupervisorStrategy() => Runtime.SupervisorStrategy.StoppingStrategy;

    private void Start()
    {
        _child = Context.Watch(Context.ActorOf(_childProps, _childName));
        Timers.StartSingleTimer("reset", new ResetRestartCount(_restartCount), _minBackoff);
    }
}
