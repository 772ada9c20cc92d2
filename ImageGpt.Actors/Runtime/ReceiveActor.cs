namespace ImageGpt.Actors.Runtime;

/// <summary>
/// An actor whose behaviour is a list of typed handlers registered in its constructor (or inside
/// <see cref="Become"/>): the first handler whose type (and predicate) matches takes the message.
/// </summary>
public abstract class ReceiveActor : ActorBase
{
    private readonly HandlerSet _initial = new();
    private HandlerSet? _configuring;

    protected ReceiveActor() => _configuring = _initial;

    protected internal sealed override bool Receive(object message) => _initial.Dispatch(message);

    internal override void AfterConstruction() => _configuring = null;

    protected void Receive<T>(Action<T> handler, Predicate<T>? shouldHandle = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Target().Add(new SyncHandler<T>(handler, shouldHandle));
    }

    /// <summary>Predicate first, as Akka also allows: <c>Receive&lt;string&gt;(s => s == "stop", _ => ...)</c>.</summary>
    protected void Receive<T>(Predicate<T> shouldHandle, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(shouldHandle);
        Receive(handler, shouldHandle);
    }

    /// <summary>
    /// The actor takes no other user message until the task completes; awaits inside continue on the
    /// actor's turn (Sender, Self and Context stay valid). A faulted task is a failure of the actor.
    /// </summary>
    protected void ReceiveAsync<T>(Func<T, Task> handler, Predicate<T>? shouldHandle = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Target().Add(new AsyncHandler<T>(ContextCell, handler, shouldHandle));
    }

    protected void ReceiveAny(Action<object> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Target().Add(new SyncHandler<object>(handler, null));
    }

    protected void ReceiveAnyAsync(Func<object, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Target().Add(new AsyncHandler<object>(ContextCell, handler, null));
    }

    /// <summary>Replaces the current handlers with those that <paramref name="configure"/> registers.</summary>
    protected void Become(Action configure) => Context.Become(Build(configure));

    /// <summary>Pushes the handlers that <paramref name="configure"/> registers; <see cref="UnbecomeStacked"/> pops them.</summary>
    protected void BecomeStacked(Action configure) => Context.BecomeStacked(Build(configure));

    protected void UnbecomeStacked() => Context.UnbecomeStacked();

    private ActorCell ContextCell => (ActorCell)Context;

    private HandlerSet Target() => _configuring
        ?? throw new InvalidOperationException("Receive<T> is called in the constructor or inside Become(() => ...), not while handling a message");

    private Behavior Build(Action configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var set = new HandlerSet();
        HandlerSet? outer = _configuring;
        _configuring = set;
        try { configure(); }
        finally { _configuring = outer; }
        return set.Dispatch;
    }

    private sealed class HandlerSet
    {
        private Handler[] _handlers = [];

        public void Add(Handler h) => _handlers = [.. _handlers, h];

        public bool Dispatch(object message)
        {
            foreach (Handler h in _handlers)
                if (h.TryHandle(message)) return true;
            return false;
        }
    }

    private abstract class Handler
    {
        public abstract bool TryHandle(object message);
    }

    private sealed class SyncHandler<T>(Action<T> handler, Predicate<T>? shouldHandle) : Handler
    {
        public override bool TryHandle(object message)
        {
            if (message is not T t || (shouldHandle is not null && !shouldHandle(t))) return false;
            handler(t);
            return true;
        }
    }

    private sealed class AsyncHandler<T>(ActorCell cell, Func<T, Task> handler, Predicate<T>? shouldHandle) : Handler
    {
        public override bool TryHandle(object message)
        {
            if (message is not T t || (shouldHandle is not null && !shouldHandle(t))) return false;
            cell.RunAsync(() => handler(t));
            return true;
        }
    }
}
