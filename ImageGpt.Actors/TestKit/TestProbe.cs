using System.Threading.Channels;
using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.TestKit;

/// <summary>An expectation of a test probe was not met.</summary>
public sealed class TestKitException(string message) : Exception(message);

/// <summary>
/// An actor ref that records what it is sent, for tests. Every expectation takes a timeout and fails
/// with <see cref="TestKitException"/> when it passes. A probe can watch actors (it then receives
/// <see cref="Terminated"/>) and subscribe to the event stream (e.g. <see cref="ActorFailed"/>).
/// </summary>
public sealed class TestProbe : ActorRefBase
{
    private static long s_counter;
    private readonly Channel<(object Message, IActorRef? Sender)> _queue =
        Channel.CreateUnbounded<(object, IActorRef?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ActorSystem _system;

    public TestProbe(ActorSystem system, string? name = null)
    {
        _system = system;
        long n = Interlocked.Increment(ref s_counter);
        Path = ActorPath.Root(system.Name).Child("temp").Child(name ?? $"testProbe-{n}", -n);
    }

    /// <summary>A probe subscribed to every <see cref="ActorFailed"/>, for <see cref="ExpectFailureAsync{TException}"/>.</summary>
    public static TestProbe ForFailures(ActorSystem system)
    {
        var probe = new TestProbe(system, null);
        system.EventStream.Subscribe(probe, typeof(ActorFailed));
        return probe;
    }

    public override ActorPath Path { get; }
    internal override ActorSystem System => _system;

    /// <summary>The sender of the last message an expectation took.</summary>
    public IActorRef? LastSender { get; private set; }

    public override void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        _queue.Writer.TryWrite((message, sender));
    }

    internal override void SendSystemMessage(SystemMessage message)
    {
        if (message is DeathWatchNotification d) Tell(new Terminated(d.Actor), d.Actor);
    }

    /// <summary>Sends with this probe as the sender.</summary>
    public void Send(IActorRef target, object message) => target.Tell(message, this);

    /// <summary>Answers the sender of the last message taken.</summary>
    public void Reply(object message) =>
        (LastSender ?? throw new TestKitException("Reply: the probe has taken no message with a sender yet")).Tell(message, this);

    public IActorRef Watch(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot watch {actor.Path}", nameof(actor));
        r.SendSystemMessage(new Watch(r, this));
        return actor;
    }

    public IActorRef Unwatch(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot unwatch {actor.Path}", nameof(actor));
        r.SendSystemMessage(new Unwatch(r, this));
        return actor;
    }

    /// <summary>The next message, which must be a <typeparamref name="T"/> (and satisfy the predicate), within the timeout.</summary>
    public async Task<T> ExpectMsgAsync<T>(TimeSpan timeout, Predicate<T>? predicate = null)
    {
        object message = await NextAsync(timeout, $"a {typeof(T).Name}").ConfigureAwait(false);
        if (message is not T t)
            throw new TestKitException($"{Path}: expected a {typeof(T).Name} but got {Describe(message)}");
        if (predicate is not null && !predicate(t))
            throw new TestKitException($"{Path}: got {Describe(message)}, which does not satisfy the predicate");
        return t;
    }

    /// <summary>The next message must equal <paramref name="expected"/>.</summary>
    public async Task<T> ExpectMsgAsync<T>(T expected, TimeSpan timeout) where T : notnull
    {
        T got = await ExpectMsgAsync<T>(timeout).ConfigureAwait(false);
        if (!EqualityComparer<T>.Default.Equals(got, expected))
            throw new TestKitException($"{Path}: expected {Describe(expected)} but got {Describe(got)}");
        return got;
    }

    public T ExpectMsg<T>(TimeSpan timeout, Predicate<T>? predicate = null) =>
        ExpectMsgAsync(timeout, predicate).GetAwaiter().GetResult();

    /// <summary>Fails if any message arrives within <paramref name="duration"/>.</summary>
    public async Task ExpectNoMsgAsync(TimeSpan duration)
    {
        using var cts = new CancellationTokenSource(duration);
        try
        {
            if (await _queue.Reader.WaitToReadAsync(cts.Token).ConfigureAwait(false) && _queue.Reader.TryPeek(out var m))
                throw new TestKitException($"{Path}: expected no message for {duration.TotalMilliseconds} ms but got {Describe(m.Message)}");
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }
    }

    public void ExpectNoMsg(TimeSpan duration) => ExpectNoMsgAsync(duration).GetAwaiter().GetResult();

    /// <summary>The next message must be the <see cref="Terminated"/> of <paramref name="actor"/> (watch it first).</summary>
    public Task<Terminated> ExpectTerminatedAsync(IActorRef actor, TimeSpan timeout) =>
        ExpectMsgAsync<Terminated>(timeout, t => t.ActorRef.Equals(actor));

    public Terminated ExpectTerminated(IActorRef actor, TimeSpan timeout) => ExpectTerminatedAsync(actor, timeout).GetAwaiter().GetResult();

    /// <summary>Skips messages until one is a <typeparamref name="T"/> satisfying <paramref name="isTarget"/>.</summary>
    public async Task<T> FishForMessageAsync<T>(Predicate<T> isTarget, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) left = TimeSpan.FromMilliseconds(1);
            object message = await NextAsync(left, $"a {typeof(T).Name} that satisfies the predicate").ConfigureAwait(false);
            if (message is T t && isTarget(t)) return t;
        }
    }

    /// <summary>
    /// Waits until <paramref name="actor"/> fails with a <typeparamref name="TException"/>; other
    /// messages are skipped. The probe must be subscribed to <see cref="ActorFailed"/> (see <see cref="ForFailures"/>).
    /// </summary>
    public async Task<TException> ExpectFailureAsync<TException>(IActorRef actor, TimeSpan timeout) where TException : Exception
    {
        ActorFailed f = await FishForMessageAsync<ActorFailed>(f => f.Actor.Equals(actor) && f.Cause is TException, timeout).ConfigureAwait(false);
        return (TException)f.Cause;
    }

    private async Task<object> NextAsync(TimeSpan timeout, string what)
    {
        if (_queue.Reader.TryRead(out var ready)) return Take(ready);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return Take(await _queue.Reader.ReadAsync(cts.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TestKitException($"{Path}: timed out after {timeout.TotalMilliseconds} ms waiting for {what}");
        }
    }

    private object Take((object Message, IActorRef? Sender) item)
    {
        LastSender = item.Sender;
        return item.Message;
    }

    private static string Describe(object? message) => message is null ? "null" : $"{message.GetType().Name} '{message}'";
}
