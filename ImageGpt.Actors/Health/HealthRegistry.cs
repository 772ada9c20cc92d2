using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace ImageGpt.Actors.Health;

/// <summary>
/// What `imagegpt status` and the dashboard show about every actor of a run. Akka.NET has no per-actor metrics
/// of its own, so this small collector keeps them: monitored actors (<see cref="MonitoredActor"/>) report their
/// incarnations, messages and stops; a listener on the event stream takes the failures that supervisors log (their
/// <see cref="Error"/> events name the failed child) and counts dead letters. The mailbox depth is read from the
/// actor's cell when a snapshot is taken.
/// </summary>
public sealed class HealthRegistry : IExtension
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ActorSystem _system;
    private long _deadLetters;

    public HealthRegistry(ExtendedActorSystem system)
    {
        _system = system;
        var listener = system.SystemActorOf(Props.Create(() => new Listener(this)), "health-listener");
        // Subscribed here, not in the listener's PreStart (which runs later, on another thread): a monitored actor creates
        // the registry before it takes its first message, so none of its failures is published before the subscription.
        system.EventStream.Subscribe(listener, typeof(Error));
        system.EventStream.Subscribe(listener, typeof(DeadLetter));
    }

    public static HealthRegistry Get(ActorSystem system) => system.WithExtension<HealthRegistry, HealthRegistryProvider>();

    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    internal Entry Started(string path, Type actorType, ActorCell cell)
    {
        Entry e = _entries.GetOrAdd(path, p => new Entry(p));
        e.Start(actorType, cell);
        return e;
    }

    /// <summary>A supervisor logged this failure of the actor at <paramref name="path"/> at <paramref name="atUtc"/>.</summary>
    public void RecordFailure(string path, Exception cause, DateTime atUtc) =>
        _entries.GetOrAdd(path, p => new Entry(p)).Fail(cause, atUtc);

    /// <summary>The actor at <paramref name="path"/> failed past its restart budget and will not come back.</summary>
    public void MarkFailed(string path)
    {
        if (_entries.TryGetValue(path, out Entry? e)) e.GiveUp();
    }

    public HealthSnapshot Snapshot()
    {
        DateTime now = DateTime.UtcNow;
        var actors = _entries.Values.Select(e => e.Read(now)).OrderBy(a => a.Path, StringComparer.Ordinal).ToList();
        return new HealthSnapshot(_system.Name, now, actors, DeadLetters);
    }

    internal sealed class Entry(string path)
    {
        private readonly Lock _lock = new();
        private Type? _type;
        private ActorCell? _cell;
        private ActorState _state = ActorState.Running;
        private int _incarnations;
        private long _processed, _sampledCount;
        private DateTime _sampledAt = DateTime.UtcNow;
        private double _rate;
        private FailureInfo? _failure;
        private DateTime _startedAt, _lastActivity;

        public void Start(Type type, ActorCell cell)
        {
            lock (_lock)
            {
                (_type, _cell, _state, _startedAt) = (type, cell, ActorState.Running, DateTime.UtcNow);
                _incarnations++;
            }
        }

        /// <summary>Called on the actor's own thread, one message at a time.</summary>
        public void Received()
        {
            Interlocked.Increment(ref _processed);
            _lastActivity = DateTime.UtcNow;
        }

        public void Stop()
        {
            lock (_lock)
            {
                // A failure of this incarnation means its supervisor stopped it to restart it (or to give up).
                if (_state != ActorState.Failed) _state = _failure is { } f && f.AtUtc >= _startedAt ? ActorState.Restarting : ActorState.Stopped;
                _cell = null;
            }
        }

        /// <param name="at">When the supervisor logged it: the event may arrive after the next incarnation has started,
        /// which then stays Running.</param>
        public void Fail(Exception cause, DateTime at)
        {
            lock (_lock)
            {
                _failure = new FailureInfo(cause.GetType().FullName ?? cause.GetType().Name, cause.Message, at);
                if (_state != ActorState.Failed && (_state != ActorState.Running || at >= _startedAt)) _state = ActorState.Restarting;
            }
        }

        public void GiveUp()
        {
            lock (_lock) _state = ActorState.Failed;
        }

        public ActorHealth Read(DateTime now)
        {
            lock (_lock)
            {
                long processed = Interlocked.Read(ref _processed);
                double elapsed = (now - _sampledAt).TotalSeconds;
                if (elapsed >= 1)
                {
                    _rate = (processed - _sampledCount) / elapsed;
                    (_sampledCount, _sampledAt) = (processed, now);
                }
                int depth = _cell is { } cell ? cell.NumberOfMessages : 0;
                DateTime last = _lastActivity;
                return new ActorHealth(path, _type?.Name ?? "?", _state, depth, processed, _rate, Math.Max(0, _incarnations - 1), _failure,
                    last == default ? null : last);
            }
        }
    }

    /// <summary>Supervisors publish an <see cref="Error"/> whose source is the failed child's path (as ActorPath.ToString
    /// writes it, the key of the entries); dead letters are counted.</summary>
    private sealed class Listener : ReceiveActor
    {
        public Listener(HealthRegistry registry)
        {
            Receive<Error>(e => e.Cause is not null && typeof(SupervisorStrategy).IsAssignableFrom(e.LogClass), e => registry.RecordFailure(e.LogSource, e.Cause!, e.Timestamp.ToUniversalTime()));
            Receive<DeadLetter>(_ => Interlocked.Increment(ref registry._deadLetters));
        }
    }
}

public sealed class HealthRegistryProvider : ExtensionIdProvider<HealthRegistry>
{
    public override HealthRegistry CreateExtension(ExtendedActorSystem system) => new(system);
}
