using System.Collections.Concurrent;

namespace ImageGpt.Actors.Runtime;

/// <summary>A scheduled send that can be called off; cancelling twice is harmless.</summary>
public interface ICancelable
{
    void Cancel();
    bool IsCancellationRequested { get; }
}

/// <summary>
/// Sends messages later or periodically, on <see cref="System.Threading.Timer"/>s. Every live timer is
/// tracked so that the system's termination disposes them all.
/// </summary>
public sealed class Scheduler : IDisposable
{
    private readonly ConcurrentDictionary<ScheduledItem, byte> _live = new();
    private volatile bool _disposed;

    public ICancelable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        return ScheduleOnce(delay, () => receiver.Tell(message, sender));
    }

    public ICancelable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        return ScheduleRepeatedly(initialDelay, interval, () => receiver.Tell(message, sender));
    }

    public ICancelable ScheduleOnce(TimeSpan delay, Action action)
    {
        if (delay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(delay), delay, "a delay cannot be negative");
        return Start(delay, Timeout.InfiniteTimeSpan, action);
    }

    public ICancelable ScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action)
    {
        if (initialDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(initialDelay), initialDelay, "a delay cannot be negative");
        if (interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(interval), interval, "a repeat interval must be positive");
        return Start(initialDelay, interval, action);
    }

    private ScheduledItem Start(TimeSpan due, TimeSpan period, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var item = new ScheduledItem(this, action, period != Timeout.InfiniteTimeSpan);
        _live.TryAdd(item, 0);
        item.Arm(due, period);
        return item;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (ScheduledItem item in _live.Keys) item.Cancel();
    }

    private sealed class ScheduledItem(Scheduler owner, Action action, bool repeating) : ICancelable
    {
        private Timer? _timer;
        private volatile bool _cancelled;

        public bool IsCancellationRequested => _cancelled;

        public void Arm(TimeSpan due, TimeSpan period)
        {
            // The timer may fire before the constructor returns; Fire reads _timer only to dispose it.
            var t = new Timer(static s => ((ScheduledItem)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer = t;
            if (_cancelled) { t.Dispose(); return; }
            t.Change(due, period);
        }

        private void Fire()
        {
            if (_cancelled) return;
            if (!repeating) Cancel();
            action();
        }

        public void Cancel()
        {
            _cancelled = true;
            _timer?.Dispose();
            owner._live.TryRemove(this, out _);
        }
    }
}

/// <summary>An actor's own timers: one per key, a new one replaces the old, all cancelled when the actor stops or restarts.</summary>
public interface ITimerScheduler
{
    void StartSingleTimer(object key, object message, TimeSpan timeout);
    void StartPeriodicTimer(object key, object message, TimeSpan interval);
    void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval);
    bool IsTimerActive(object key);
    void Cancel(object key);
    void CancelAll();
}

/// <summary>
/// A timer's message travels wrapped with its key and generation, so that a message already in the
/// mailbox when its timer was cancelled or replaced is dropped, never delivered.
/// </summary>
internal sealed class TimerMessage(object key, int generation, object message)
{
    public object Key { get; } = key;
    public int Generation { get; } = generation;
    public object Message { get; } = message;
}

/// <summary>Used only on the owning actor's turn, so it needs no lock.</summary>
internal sealed class TimerScheduler(ActorCell cell) : ITimerScheduler
{
    private readonly Dictionary<object, (int Generation, ICancelable Timer, bool Single)> _timers = [];
    private int _generation;

    public void StartSingleTimer(object key, object message, TimeSpan timeout) =>
        Start(key, message, single: true, (tm, self) => cell.System.Scheduler.ScheduleTellOnce(timeout, self, tm, self));

    public void StartPeriodicTimer(object key, object message, TimeSpan interval) => StartPeriodicTimer(key, message, interval, interval);

    public void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval) =>
        Start(key, message, single: false, (tm, self) => cell.System.Scheduler.ScheduleTellRepeatedly(initialDelay, interval, self, tm, self));

    private void Start(object key, object message, bool single, Func<TimerMessage, IActorRef, ICancelable> schedule)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(message);
        Cancel(key);
        int generation = ++_generation;
        ICancelable timer = schedule(new TimerMessage(key, generation, message), cell.Self);
        _timers[key] = (generation, timer, single);
    }

    public bool IsTimerActive(object key) => _timers.ContainsKey(key);

    public void Cancel(object key)
    {
        if (_timers.Remove(key, out var t)) t.Timer.Cancel();
    }

    public void CancelAll()
    {
        foreach (var t in _timers.Values) t.Timer.Cancel();
        _timers.Clear();
    }

    /// <summary>True with the payload when the message comes from a timer that is still current.</summary>
    public bool TryAccept(TimerMessage tm, out object message)
    {
        message = tm.Message;
        if (!_timers.TryGetValue(tm.Key, out var t) || t.Generation != tm.Generation) return false;
        if (t.Single) _timers.Remove(tm.Key);
        return true;
    }
}
