namespace ImageGpt.Actors.Runtime;

/// <summary>Settings of an actor system; immutable, validated by <see cref="ActorSystem.Create"/>.</summary>
public sealed record ActorSystemOptions
{
    /// <summary>
    /// Messages an actor processes per turn before giving its thread back. Larger batches amortise the
    /// scheduling cost (higher throughput); smaller ones are fairer between busy actors. Akka uses 30.
    /// </summary>
    public int Throughput { get; init; } = 100;

    /// <summary>How long one coordinated-shutdown phase may take before the next one starts anyway.</summary>
    public TimeSpan DefaultPhaseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Per-phase overrides of <see cref="DefaultPhaseTimeout"/>.</summary>
    public IReadOnlyDictionary<string, TimeSpan> PhaseTimeouts { get; init; } = new Dictionary<string, TimeSpan>();

    internal TimeSpan PhaseTimeout(string phase) => PhaseTimeouts.TryGetValue(phase, out TimeSpan t) ? t : DefaultPhaseTimeout;

    internal void Validate()
    {
        if (Throughput < 1) throw new ArgumentOutOfRangeException(nameof(Throughput), Throughput, "an actor processes at least 1 message per turn");
        if (DefaultPhaseTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(DefaultPhaseTimeout), DefaultPhaseTimeout, "must be positive");
        foreach (var (phase, t) in PhaseTimeouts)
        {
            if (!CoordinatedShutdown.OrderedPhases.Contains(phase))
                throw new ArgumentException($"unknown shutdown phase '{phase}' in PhaseTimeouts", nameof(PhaseTimeouts));
            if (t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(PhaseTimeouts), t, $"timeout of phase '{phase}' must be positive");
        }
    }
}

/// <summary>
/// A tree of actors under <c>imagegpt://name/</c>: user actors live under <c>/user</c>, runtime
/// actors under <c>/system</c>. Also owns the dead letters, the event stream, the scheduler and the
/// coordinated shutdown.
/// </summary>
public sealed class ActorSystem : IAsyncDisposable
{
    private readonly ActorCell _root;
    private readonly ActorCell _userGuardian;
    private readonly ActorCell _systemGuardian;
    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _uid;

    private ActorSystem(string name, ActorSystemOptions options)
    {
        Name = name;
        Options = options;
        EventStream = new EventStream();
        Scheduler = new Scheduler();
        DeadLetterRef = new DeadLetterActorRef(this);
        CoordinatedShutdown = new CoordinatedShutdown(this);
        // As in Akka, a guardian that fails is stopped, not restarted, and the system then terminates:
        // restarting /user would silently stop every top-level actor.
        _root = new ActorCell(this, null, Props.Create<Guardian>().WithSupervisorStrategy(SupervisorStrategy.StoppingStrategy),
            ActorPath.Root(name).WithUid(NextUid()));
        _root.SelfRef.SendSystemMessage(Runtime.Create.Instance);
        _userGuardian = ((LocalActorRef)_root.ActorOf(Props.Create<Guardian>(), "user")).Cell;
        _systemGuardian = ((LocalActorRef)_root.ActorOf(Props.Create<Guardian>(), "system")).Cell;
    }

    public static ActorSystem Create(string name, ActorSystemOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw new ArgumentException($"actor system name '{name}' may hold only letters, digits, '-' and '_'", nameof(name));
        options ??= new ActorSystemOptions();
        options.Validate();
        return new ActorSystem(name, options);
    }

    public string Name { get; }
    public ActorSystemOptions Options { get; }
    public EventStream EventStream { get; }
    public Scheduler Scheduler { get; }
    public CoordinatedShutdown CoordinatedShutdown { get; }
    public IActorRef DeadLetters => DeadLetterRef;
    public long DeadLetterCount => DeadLetterRef.Count;
    public Task WhenTerminated => _terminated.Task;
    internal DeadLetterActorRef DeadLetterRef { get; }

    internal long NextUid() => Interlocked.Increment(ref _uid);

    /// <summary>A top-level actor, child of <c>/user</c>.</summary>
    public IActorRef ActorOf(Props props, string? name = null) => _userGuardian.ActorOf(props, name);

    /// <summary>A runtime actor, child of <c>/system</c>.</summary>
    public IActorRef SystemActorOf(Props props, string? name = null) => _systemGuardian.ActorOf(props, name);

    /// <summary>Stops any actor (asynchronously: it finishes its current message, stops its children, then PostStop).</summary>
    public void Stop(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot stop {actor.Path}: not an actor of this runtime", nameof(actor));
        r.SendSystemMessage(Runtime.Terminate.Instance);
    }

    /// <summary>Runs the coordinated shutdown (which stops every actor last) and completes when all have stopped.</summary>
    public Task Terminate()
    {
        CoordinatedShutdown.Run(CoordinatedShutdown.Reason.ActorSystemTerminate);
        return WhenTerminated;
    }

    internal Task FinalTerminate()
    {
        _root.SelfRef.SendSystemMessage(Runtime.Terminate.Instance);
        return WhenTerminated;
    }

    internal void OnRootTerminated()
    {
        Scheduler.Dispose();
        _terminated.TrySetResult();
    }

    /// <summary>The state of every actor, cheap enough to call every second (it reads counters, takes no actor's turn).</summary>
    public HealthSnapshot Health()
    {
        var actors = new List<ActorHealth>();
        _root.CollectHealth(actors, Environment.TickCount64, DateTime.UtcNow);
        return new HealthSnapshot(Name, DateTime.UtcNow, actors, DeadLetterCount);
    }

    public override string ToString() => $"ActorSystem[{Name}]";

    public async ValueTask DisposeAsync() => await Terminate().ConfigureAwait(false);

    /// <summary>The root and the two guardians: they handle no messages; their cells do the supervising.</summary>
    private sealed class Guardian : ActorBase
    {
        protected internal override bool Receive(object message) => false;
    }
}
