using System.Diagnostics;

namespace ImageGpt.Actors.Runtime;

/// <summary>
/// The runtime side of one actor: its instance (replaced on restart), behaviour stack, children,
/// watchers, supervision state and health counters. Everything here runs on the actor's turn (one
/// thread at a time, see <see cref="Mailbox"/>), except <see cref="ActorOf"/> for guardians, which is
/// why the children table alone has a lock; no user code runs while it is held.
/// </summary>
internal sealed class ActorCell : IActorContext, IStash
{
    [ThreadStatic] private static ActorCell? t_current;

    private readonly ActorSystem _system;
    private readonly ActorRefBase? _parent;
    private readonly Props _props;

    private ActorBase? _actor;
    private bool _creatingActor;
    private int _incarnation;
    private Envelope _current;
    private readonly List<Behavior> _behaviors = [];
    private SupervisorStrategy? _strategy;
    private TimerScheduler? _timers;
    private ActorSynchronizationContext? _syncContext;
    private List<Envelope>? _stash;
    private Queue<Envelope>? _unstashed;

    private readonly Lock _childLock = new();
    private readonly Dictionary<string, ChildStats> _children = new(StringComparer.Ordinal);
    private long _autoName;
    private readonly HashSet<ActorRefBase> _stoppingChildren = [];
    private readonly HashSet<ActorRefBase> _watching = [];
    private readonly HashSet<ActorRefBase> _watchedBy = [];

    private int _suspendCount;
    private bool _failed;
    private object? _failedMessage;
    private bool _awaiting;
    private bool _terminating;
    private bool _terminated;
    private Recreate? _pendingRecreate;

    // Health: written on the actor's turn, read by Health() from any thread (racy but each read is atomic).
    private int _state = (int)ActorState.Starting;
    private long _processed;
    private int _restarts;
    private FailureInfo? _lastFailure;
    // Stopwatch ticks: Environment.TickCount64 is too coarse on Linux for an actor only milliseconds old.
    private long _lastActivityTicks;
    private long _windowStartTicks;
    private long _windowStartCount;
    private long _prevWindowStartTicks;
    private long _prevWindowStartCount;

    public ActorCell(ActorSystem system, ActorRefBase? parent, Props props, ActorPath path)
    {
        _system = system;
        _parent = parent;
        _props = props;
        SelfRef = new LocalActorRef(this, path);
        Mailbox = new Mailbox(this, props.MailboxCapacity, system.Options.Throughput);
        _windowStartTicks = Stopwatch.GetTimestamp();
    }

    public LocalActorRef SelfRef { get; }
    public Mailbox Mailbox { get; }
    public ActorSystem System => _system;
    public Props Props => _props;
    public IActorRef Self => SelfRef;
    public IActorRef Parent => _parent ?? (IActorRef)SelfRef;
    public IActorRef Sender => _current.Sender ?? _system.DeadLetters;
    public IActorRef? CurrentSender => _current.Sender;
    public bool IsCreatingActor => _creatingActor;
    public ITimerScheduler Timers => _timers ??= new TimerScheduler(this);

    /// <summary>The cell whose turn runs on this thread (null outside actors).</summary>
    public static ActorCell? Current => t_current;

    public static ActorCell? EnterTurn(ActorCell cell)
    {
        ActorCell? previous = t_current;
        t_current = cell;
        return previous;
    }

    public static void LeaveTurn(ActorCell? previous) => t_current = previous;

    public bool CanProcessUserMessages =>
        _actor is not null && _suspendCount == 0 && !_failed && !_awaiting && !_terminating && _pendingRecreate is null;

    // ---------------------------------------------------------------- user messages

    public void Invoke(in Envelope envelope)
    {
        Debug.Assert(t_current == this, "user messages are processed only on this actor's turn");
        _current = envelope;
        object message = envelope.Message;
        try
        {
            if (message is PoisonPill) BeginTerminate();
            else if (message is Kill) throw new ActorKilledException($"{SelfRef.Path} received Kill");
            else if (message is TimerMessage tm)
            {
                if (_timers is not null && _timers.TryAccept(tm, out object payload))
                {
                    // Unwrapped, so that stashing it keeps the payload and not a spent timer ticket.
                    _current = new Envelope(payload, envelope.Sender);
                    ReceiveMessage(payload);
                }
            }
            else ReceiveMessage(message);
        }
        catch (Exception e)
        {
            HandleInvokeFailure(e, message);
        }
        Volatile.Write(ref _processed, _processed + 1);
    }

    private void ReceiveMessage(object message)
    {
        ActorBase actor = _actor!;
        bool handled = actor.AroundReceive(_behaviors.Count == 0 ? null : _behaviors[^1], message);
        if (!handled) actor.AroundUnhandled(message);
    }

    /// <summary>Unstashed messages go before everything still in the mailbox.</summary>
    public bool TryTakeUnstashed(out Envelope envelope)
    {
        if (_unstashed is { Count: > 0 } q)
        {
            envelope = q.Dequeue();
            return true;
        }
        envelope = default;
        return false;
    }

    public bool HasUnstashed => _unstashed is { Count: > 0 };

    // ---------------------------------------------------------------- stash

    int IStash.Count => _stash?.Count ?? 0;

    void IStash.Stash()
    {
        _stash ??= [];
        if (_stash.Count > 0 && ReferenceEquals(_stash[^1].Message, _current.Message) && ReferenceEquals(_stash[^1].Sender, _current.Sender))
            throw new InvalidOperationException($"{SelfRef.Path} stashed the same message twice");
        _stash.Add(_current);
    }

    void IStash.Unstash()
    {
        if (_stash is not { Count: > 0 }) return;
        Envelope first = _stash[0];
        _stash.RemoveAt(0);
        Prepend([first]);
    }

    void IStash.UnstashAll()
    {
        if (_stash is not { Count: > 0 }) return;
        Prepend(_stash);
        _stash.Clear();
    }

    private void Prepend(List<Envelope> envelopes)
    {
        var q = new Queue<Envelope>(envelopes.Count + (_unstashed?.Count ?? 0));
        foreach (Envelope e in envelopes) q.Enqueue(e);
        if (_unstashed is not null) foreach (Envelope e in _unstashed) q.Enqueue(e);
        _unstashed = q;
    }

    public void EndTurn(int processed)
    {
        if (processed == 0) return;
        long now = Stopwatch.GetTimestamp();
        Volatile.Write(ref _lastActivityTicks, now);
        long span = now - _windowStartTicks;
        if (span >= Stopwatch.Frequency)
        {
            Volatile.Write(ref _prevWindowStartCount, _windowStartCount);
            Volatile.Write(ref _prevWindowStartTicks, _windowStartTicks);
            Volatile.Write(ref _windowStartCount, _processed);
            Volatile.Write(ref _windowStartTicks, now);
        }
    }

    public void DeadLetter(in Envelope envelope) => _system.DeadLetterRef.Publish(envelope.Message, envelope.Sender, SelfRef);

    /// <summary>Runs a ReceiveAsync handler: awaits in it continue on this actor's turn via a synchronization context.</summary>
    public void RunAsync(Func<Task> start)
    {
        _syncContext ??= new ActorSynchronizationContext(this);
        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_syncContext);
        Task task;
        try { task = start(); }
        finally { SynchronizationContext.SetSynchronizationContext(previous); }
        if (task.IsCompleted)
        {
            task.GetAwaiter().GetResult();
            return;
        }
        _awaiting = true;
        task.ContinueWith(static (t, s) =>
        {
            var (cell, envelope, incarnation) = ((ActorCell, Envelope, int))s!;
            cell.SelfRef.SendSystemMessage(new AsyncHandlerDone(t, envelope, incarnation));
        }, (this, _current, _incarnation), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    // ---------------------------------------------------------------- system messages

    public void SystemInvoke(SystemMessage message)
    {
        Debug.Assert(t_current == this, "system messages are processed only on this actor's turn");
        try
        {
            switch (message)
            {
                case Create: CreateActor(); break;
                case Recreate r: FaultRecreate(r); break;
                case Suspend:
                    _suspendCount++;
                    SendToChildren(Suspend.Instance);
                    break;
                case Resume r: ResumeFrom(r); break;
                case Terminate: BeginTerminate(); break;
                case Failed f: HandleChildFailure(f); break;
                case Watch w:
                    if (w.Watchee.Equals(SelfRef) && !w.Watcher.Equals(SelfRef)) _watchedBy.Add(w.Watcher);
                    break;
                case Unwatch u: _watchedBy.Remove(u.Watcher); break;
                case DeathWatchNotification d: HandleDeathWatch(d.Actor); break;
                case RunContinuation c: RunContinuation(c); break;
                case AsyncHandlerDone d: AsyncDone(d); break;
                default: Debug.Fail($"unknown system message {message.GetType().Name}"); break;
            }
        }
        catch (Exception e)
        {
            HandleInvokeFailure(e, null);
        }
    }

    /// <summary>A system message for an actor that has terminated: a watch is answered at once.</summary>
    public void SystemMessageAfterClose(SystemMessage message)
    {
        if (message is Watch w && w.Watchee.Equals(SelfRef)) w.Watcher.SendSystemMessage(new DeathWatchNotification(SelfRef));
    }

    private void CreateActor()
    {
        try
        {
            NewInstance();
            _actor!.AroundPreStart();
            SetState(ActorState.Running);
        }
        catch (Exception e)
        {
            HandleInvokeFailure(new ActorInitializationException(SelfRef, $"{SelfRef.Path} failed to start: {e.Message}", e), null);
        }
    }

    private void NewInstance()
    {
        _behaviors.Clear();
        _strategy = null;
        _actor = null;
        _incarnation++;
        _creatingActor = true;
        ActorCell? previous = EnterTurn(this);
        try
        {
            ActorBase actor = _props.NewActor();
            if (!ReferenceEquals(actor, _actor))
                throw new InvalidOperationException($"the Props factory of {SelfRef.Path} must return the actor it creates");
            actor.AfterConstruction();
        }
        catch (global::System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            // Props.Create<T>() runs 'new T()' through reflection; report the constructor's own exception.
            _actor = null;
            global::System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
        }
        catch
        {
            _actor = null;
            throw;
        }
        finally
        {
            _creatingActor = false;
            LeaveTurn(previous);
        }
    }

    /// <summary>The ActorBase constructor registers itself here.</summary>
    public void ClaimActor(ActorBase actor)
    {
        if (_actor is not null)
            throw new InvalidOperationException($"the Props factory of {SelfRef.Path} created more than one actor");
        _actor = actor;
    }

    private void ResumeFrom(Resume r)
    {
        if (r.CausedByFailure)
        {
            if (!_failed) return;
            _failed = false;
            _failedMessage = null;
            SetState(ActorState.Running);
        }
        else if (_suspendCount > 0)
        {
            _suspendCount--;
        }
        SendToChildren(new Resume(causedByFailure: false));
    }

    private void SendToChildren(SystemMessage message)
    {
        foreach (ChildStats c in ChildrenSnapshot()) c.Ref.SendSystemMessage(message);
    }

    // ---------------------------------------------------------------- failure and supervision

    /// <summary>This actor threw: suspend it and its children and tell the parent (never the sender).</summary>
    private void HandleInvokeFailure(Exception cause, object? message)
    {
        DateTime now = DateTime.UtcNow;
        Volatile.Write(ref _lastFailure, new FailureInfo(cause.GetType().Name, cause.Message, now));
        _system.EventStream.Publish(new ActorFailed(SelfRef, _props.ActorType, cause, now));
        // A failure while stopping has nobody left to decide; one already reported waits for its decision.
        if (_terminating || _failed) return;
        _failed = true;
        _failedMessage = message;
        _awaiting = false;
        SetState(ActorState.Suspended);
        SendToChildren(Suspend.Instance);
        if (_parent is null) BeginTerminate();
        else _parent.SendSystemMessage(new Failed(SelfRef, cause));
    }

    private void HandleChildFailure(Failed f)
    {
        if (_terminating || _stoppingChildren.Contains(f.Child)) return;
        ChildStats? stats = FindChild(f.Child);
        if (stats is null) return;
        _strategy ??= _props.SupervisorStrategy ?? _actor?.AroundSupervisorStrategy() ?? SupervisorStrategy.Default;
        if (!_strategy.HandleFailure(this, stats, f.Cause, ChildrenSnapshot()))
            HandleInvokeFailure(f.Cause, null);
    }

    private void FaultRecreate(Recreate r)
    {
        if (_terminating) return;
        Interlocked.Increment(ref _restarts);
        SetState(ActorState.Restarting);
        _awaiting = false;
        ActorBase? failed = _actor;
        if (failed is not null)
        {
            try { failed.AroundPreRestart(r.Cause, _failedMessage); }
            catch (Exception e) { Publish(e); }
        }
        _timers?.CancelAll();
        _behaviors.Clear();
        // As in Akka, what the failed instance stashed is handed to the new one first.
        ((IStash)this).UnstashAll();
        _actor = null;
        _pendingRecreate = r;
        // The new instance may create children with the old names: wait until the stopped ones are gone.
        if (_stoppingChildren.Count == 0) FinishRecreate();
    }

    private void FinishRecreate()
    {
        Recreate r = _pendingRecreate!;
        _pendingRecreate = null;
        _failed = false;
        _failedMessage = null;
        if (r.ResumeAfter && _suspendCount > 0) _suspendCount--;
        List<ChildStats> survivors = ChildrenSnapshot();
        try
        {
            NewInstance();
            _actor!.AroundPostRestart(r.Cause);
            SetState(ActorState.Running);
        }
        catch (Exception e)
        {
            HandleInvokeFailure(new ActorInitializationException(SelfRef, $"{SelfRef.Path} failed to restart: {e.Message}", e), null);
            return;
        }
        // Children kept by an overridden PreRestart were suspended with this actor's failure.
        foreach (ChildStats c in survivors) c.Ref.SendSystemMessage(new Resume(causedByFailure: false));
    }

    public void StopChild(ActorRefBase child)
    {
        _stoppingChildren.Add(child);
        child.SendSystemMessage(Terminate.Instance);
    }

    // ---------------------------------------------------------------- termination and death watch

    private void BeginTerminate()
    {
        if (_terminating) return;
        List<ChildStats> children;
        lock (_childLock)
        {
            _terminating = true;
            children = [.. _children.Values];
        }
        SetState(ActorState.Stopping);
        _timers?.CancelAll();
        foreach (ChildStats c in children) StopChild(c.Ref);
        if (children.Count == 0) FinishTerminate();
    }

    private void FinishTerminate()
    {
        if (_terminated) return;
        _terminated = true;
        ActorBase? actor = _actor;
        if (actor is not null)
        {
            try { actor.AroundPostStop(); }
            catch (Exception e) { Publish(e); }
        }
        _actor = null;
        _behaviors.Clear();
        SetState(ActorState.Stopped);
        ((IStash)this).UnstashAll();
        while (TryTakeUnstashed(out Envelope e)) DeadLetter(e);
        Mailbox.Close();
        _system.EventStream.Unsubscribe(SelfRef);
        foreach (ActorRefBase w in _watching) w.SendSystemMessage(new Unwatch(w, SelfRef));
        _watching.Clear();
        var notification = new DeathWatchNotification(SelfRef);
        foreach (ActorRefBase w in _watchedBy)
            if (!w.Equals(_parent)) w.SendSystemMessage(notification);
        _watchedBy.Clear();
        if (_parent is not null) _parent.SendSystemMessage(notification);
        else _system.OnRootTerminated();
    }

    private void HandleDeathWatch(ActorRefBase actor)
    {
        bool wasChild = false;
        lock (_childLock)
        {
            if (_children.TryGetValue(actor.Path.Name, out ChildStats? c) && c.Ref.Equals(actor))
            {
                _children.Remove(actor.Path.Name);
                wasChild = true;
            }
        }
        if (wasChild) _stoppingChildren.Remove(actor);
        if (_watching.Remove(actor) && !_terminating)
        {
            // As a user message, so that it comes after what the dead actor sent before it stopped.
            var t = new Terminated(actor);
            if (!Mailbox.TryPost(new Envelope(t, actor)) && CanProcessUserMessages)
            {
                _current = new Envelope(t, actor);
                try { ReceiveMessage(t); }
                catch (Exception e) { HandleInvokeFailure(e, t); }
            }
        }
        if (!wasChild) return;
        if (_terminating)
        {
            bool empty;
            lock (_childLock) empty = _children.Count == 0;
            if (empty) FinishTerminate();
        }
        else if (_parent is null)
        {
            // The root stops when a guardian has stopped (e.g. the user guardian failed and was stopped).
            BeginTerminate();
        }
        else if (_pendingRecreate is not null && _stoppingChildren.Count == 0)
        {
            FinishRecreate();
        }
    }

    private void RunContinuation(RunContinuation c)
    {
        if (_terminated) return;
        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_syncContext);
        try { c.Callback(c.State); }
        finally { SynchronizationContext.SetSynchronizationContext(previous); }
    }

    private void AsyncDone(AsyncHandlerDone d)
    {
        if (_terminating || d.Incarnation != _incarnation || !_awaiting) return;
        _awaiting = false;
        if (d.Task.IsFaulted || d.Task.IsCanceled)
        {
            _current = d.Envelope;
            Exception cause = d.Task.Exception?.InnerException ?? new TaskCanceledException(d.Task);
            HandleInvokeFailure(cause, d.Envelope.Message);
        }
    }

    private void Publish(Exception e)
    {
        DateTime now = DateTime.UtcNow;
        Volatile.Write(ref _lastFailure, new FailureInfo(e.GetType().Name, e.Message, now));
        _system.EventStream.Publish(new ActorFailed(SelfRef, _props.ActorType, e, now));
    }

    // ---------------------------------------------------------------- IActorContext

    public IActorRef ActorOf(Props props, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(props);
        if (name is not null) ValidateName(name);
        LocalActorRef child;
        lock (_childLock)
        {
            Debug.Assert(_children.Values.All(c => c.Ref.Path.Parent!.Equals(SelfRef.Path)), "children are registered under their own name");
            if (_terminating)
                throw new InvalidOperationException($"{SelfRef.Path} is stopping and cannot create the child '{name}'");
            name ??= "$" + ToBase36(++_autoName);
            if (_children.ContainsKey(name))
                throw new InvalidActorNameException(
                    $"actor name '{name}' is not unique under {SelfRef.Path}. HINT: stop the old child and wait for its Terminated, or pick another name");
            var cell = new ActorCell(_system, SelfRef, props, SelfRef.Path.Child(name, _system.NextUid()));
            child = cell.SelfRef;
            _children.Add(name, new ChildStats(child));
        }
        child.SendSystemMessage(Create.Instance);
        return child;
    }

    private static void ValidateName(string name)
    {
        if (name.Length == 0) throw new InvalidActorNameException("an actor name cannot be empty");
        if (name[0] == '$') throw new InvalidActorNameException($"actor name '{name}' starts with '$', which is reserved for generated names");
        foreach (char ch in name)
            if (ch is '/' or '#' or '?' || char.IsWhiteSpace(ch) || char.IsControl(ch))
                throw new InvalidActorNameException($"actor name '{name}' contains '{ch}'. HINT: use letters, digits and -_.");
    }

    private static string ToBase36(long n)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        Span<char> buf = stackalloc char[16];
        int i = buf.Length;
        do { buf[--i] = digits[(int)(n % 36)]; n /= 36; } while (n > 0);
        return new string(buf[i..]);
    }

    public IActorRef? Child(string name)
    {
        lock (_childLock) return _children.TryGetValue(name, out ChildStats? c) ? c.Ref : null;
    }

    public IReadOnlyList<IActorRef> GetChildren()
    {
        lock (_childLock) return [.. _children.Values.Select(c => (IActorRef)c.Ref)];
    }

    private List<ChildStats> ChildrenSnapshot()
    {
        lock (_childLock) return [.. _children.Values];
    }

    private ChildStats? FindChild(ActorRefBase r)
    {
        lock (_childLock) return _children.TryGetValue(r.Path.Name, out ChildStats? c) && c.Ref.Equals(r) ? c : null;
    }

    public void Stop(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot stop {actor.Path}: not an actor of this runtime", nameof(actor));
        if (r.Equals(SelfRef)) SelfRef.SendSystemMessage(Terminate.Instance);
        else if (FindChild(r) is not null) StopChild(r);
        else r.SendSystemMessage(Terminate.Instance);
    }

    public IActorRef Watch(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot watch {actor.Path}: not an actor of this runtime", nameof(actor));
        if (!r.Equals(SelfRef) && _watching.Add(r)) r.SendSystemMessage(new Watch(r, SelfRef));
        return actor;
    }

    public IActorRef Unwatch(IActorRef actor)
    {
        var r = actor as ActorRefBase ?? throw new ArgumentException($"cannot unwatch {actor.Path}: not an actor of this runtime", nameof(actor));
        if (_watching.Remove(r)) r.SendSystemMessage(new Unwatch(r, SelfRef));
        return actor;
    }

    public void Become(Behavior behavior)
    {
        ArgumentNullException.ThrowIfNull(behavior);
        if (_behaviors.Count > 0) _behaviors[^1] = behavior;
        else _behaviors.Add(behavior);
    }

    public void BecomeStacked(Behavior behavior)
    {
        ArgumentNullException.ThrowIfNull(behavior);
        _behaviors.Add(behavior);
    }

    public void UnbecomeStacked()
    {
        if (_behaviors.Count > 0) _behaviors.RemoveAt(_behaviors.Count - 1);
    }

    // ---------------------------------------------------------------- health

    private void SetState(ActorState state) => Volatile.Write(ref _state, (int)state);

    public void CollectHealth(List<ActorHealth> into, long nowTicks, DateTime nowUtc)
    {
        long processed = Volatile.Read(ref _processed);
        // The rate spans the last complete window (about a second) and the current partial one, so a
        // message processed just before a window rolled over still counts; a quiet actor decays to 0.
        long prevTicks = Volatile.Read(ref _prevWindowStartTicks);
        long baseTicks = prevTicks != 0 ? prevTicks : Volatile.Read(ref _windowStartTicks);
        long baseCount = prevTicks != 0 ? Volatile.Read(ref _prevWindowStartCount) : Volatile.Read(ref _windowStartCount);
        long age = nowTicks - baseTicks;
        double rate = age > 0 ? (processed - baseCount) * (double)Stopwatch.Frequency / age : 0;
        long last = Volatile.Read(ref _lastActivityTicks);
        into.Add(new ActorHealth(
            SelfRef.Path.ToString(),
            _props.ActorType.Name,
            (ActorState)Volatile.Read(ref _state),
            Mailbox.Depth,
            processed,
            rate,
            Volatile.Read(ref _restarts),
            Volatile.Read(ref _lastFailure),
            last == 0 ? null : nowUtc - Stopwatch.GetElapsedTime(last, nowTicks)));
        List<ChildStats> children = ChildrenSnapshot();
        children.Sort(static (a, b) => string.CompareOrdinal(a.Ref.Path.Name, b.Ref.Path.Name));
        foreach (ChildStats c in children)
            if (c.Ref is LocalActorRef l) l.Cell.CollectHealth(into, nowTicks, nowUtc);
    }

    /// <summary>Posts continuations of ReceiveAsync handlers back onto the actor's turn.</summary>
    private sealed class ActorSynchronizationContext(ActorCell cell) : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) => cell.SelfRef.SendSystemMessage(new RunContinuation(d, state));
        public override void Send(SendOrPostCallback d, object? state) => d(state);
        public override SynchronizationContext CreateCopy() => this;
    }
}
