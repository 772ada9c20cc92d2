using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Persistence;

/// <summary>Where a persistent actor keeps its events and snapshots, and how it turns them into bytes.</summary>
/// <param name="ReplayPageSize">events read per query during recovery: bounds memory, not correctness</param>
public sealed record PersistenceSettings(IJournal Journal, ISnapshotStore Snapshots, SerializerRegistry Serializers, int ReplayPageSize = 1000)
{
    /// <summary>Which snapshot recovery starts from (Akka's <c>Recovery.FromSnapshot</c>); <see cref="SnapshotCriteria.None"/> replays every event.</summary>
    public SnapshotCriteria RecoverFromSnapshot { get; init; } = SnapshotCriteria.Latest;
}

public sealed record SnapshotMetadata(string PersistenceId, long SequenceNr, long Timestamp);

/// <summary>Given to the recovery handlers first when recovery starts from a snapshot.</summary>
public sealed record SnapshotOffer(SnapshotMetadata Metadata, object Snapshot);

/// <summary>Given to the recovery handlers after the last replayed event; commands flow after it.</summary>
public sealed class RecoveryCompleted
{
    public static readonly RecoveryCompleted Instance = new();
    private RecoveryCompleted() { }
}

/// <summary>Sent to the actor when <c>SaveSnapshot</c> has stored its snapshot.</summary>
public sealed record SaveSnapshotSuccess(SnapshotMetadata Metadata);

/// <summary>Sent to the actor when <c>SaveSnapshot</c> failed; the actor keeps running.</summary>
public sealed record SaveSnapshotFailure(SnapshotMetadata Metadata, Exception Cause);

/// <summary>Sent to the actor when <c>DeleteMessages</c> has deleted its events up to <see cref="ToSequenceNr"/>.</summary>
public sealed record DeleteMessagesSuccess(long ToSequenceNr);

public sealed record DeleteMessagesFailure(long ToSequenceNr, Exception Cause);

/// <summary>Published on the event stream when recovery failed; the actor then stops.</summary>
/// <param name="Event">the event or snapshot being replayed when it failed, if any</param>
public sealed record RecoveryFailure(IActorRef Actor, string PersistenceId, Exception Cause, object? Event);

/// <summary>Published on the event stream when an event could not be written; the actor then stops.</summary>
public sealed record PersistFailure(IActorRef Actor, string PersistenceId, Exception Cause, object Event, long SequenceNr);

/// <summary>Published on the event stream when an event could not be serialized; nothing was written and the actor goes on.</summary>
public sealed record PersistRejected(IActorRef Actor, string PersistenceId, Exception Cause, object Event, long SequenceNr);

/// <summary>
/// An event-sourced actor with Akka's semantics (ReceivePersistentActor). At start it recovers: the latest
/// snapshot (as <see cref="SnapshotOffer"/>), then the events after it, then <see cref="RecoveryCompleted"/>, all
/// through the <see cref="Recover{T}"/> handlers; no command is handled before recovery ends.
/// In a <see cref="Command{T}"/> handler, <see cref="Persist{TEvent}"/> queues an event; after the command
/// handler returns the events are written and then each event's handler runs, with the command's Sender still
/// current. Until then no other command is handled (Akka stashes them; here the mailbox waits).
/// <see cref="PersistAll{TEvent}"/> writes its events in one atomic batch. A failed write calls
/// <see cref="OnPersistFailure"/> and stops the actor (its state may be behind the journal, so it must recover
/// anew); a failed recovery calls <see cref="OnRecoveryFailure"/> and stops it.
/// </summary>
public abstract class PersistentActor : ReceiveActor
{
    private readonly PersistenceSettings _settings;
    private readonly List<RecoverHandler> _recoverHandlers = [];
    private readonly Queue<PendingWrite> _pending = new();
    private bool _recovering = true;
    private bool _mayPersist;

    protected PersistentActor(PersistenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
    }

    /// <summary>The identity of this actor's event stream; one live actor per id.</summary>
    public abstract string PersistenceId { get; }

    /// <summary>The sequence number of the last event recovered or persisted.</summary>
    public long LastSequenceNr { get; private set; }

    /// <summary>The sequence number of the snapshot recovery started from (0: none).</summary>
    public long SnapshotSequenceNr { get; private set; }

    public bool IsRecovering => _recovering;

    /// <summary>Registers a recovery handler for replayed events, <see cref="SnapshotOffer"/> and <see cref="RecoveryCompleted"/> (call in the constructor).</summary>
    protected void Recover<T>(Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _recoverHandlers.Add(new RecoverHandler(typeof(T), m => handler((T)m)));
    }

    /// <summary>Registers a command handler; events it persists are written when it returns.</summary>
    protected void Command<T>(Action<T> handler, Predicate<T>? shouldHandle = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Receive<T>(command =>
        {
            _mayPersist = true;
            try { handler(command); }
            finally { _mayPersist = false; }
            if (_pending.Count > 0) Cell.RunAsync(WritePendingAsync);
        }, shouldHandle);
    }

    /// <summary>Predicate first, as <c>Receive</c> allows: <c>Command&lt;string&gt;(s => s == "get", _ => ...)</c>.</summary>
    protected void Command<T>(Predicate<T> shouldHandle, Action<T> handler)
    {
        ArgumentNullException.ThrowIfNull(shouldHandle);
        Command(handler, shouldHandle);
    }

    /// <summary>Writes <paramref name="evt"/> after the current command handler returns, then runs <paramref name="handler"/> with it.</summary>
    protected void Persist<TEvent>(TEvent evt, Action<TEvent> handler) where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(handler);
        PersistAll([evt], handler);
    }

    /// <summary>Writes <paramref name="events"/> in one atomic batch (all or none), then runs <paramref name="handler"/> for each in order.</summary>
    protected void PersistAll<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler) where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(handler);
        if (_recovering)
            throw new InvalidOperationException($"{PersistenceId}: Persist was called during recovery; recovery handlers rebuild state and must not write");
        // Only a Command handler (or a persist handler) is followed by the write; elsewhere the event would wait unseen.
        if (!_mayPersist)
            throw new InvalidOperationException($"{PersistenceId}: Persist is called from a Command<T> handler or a persist handler, not from Receive or a callback");
        object[] batch = events.Cast<object>().ToArray();
        if (batch.Length > 0) _pending.Enqueue(new PendingWrite(batch, e => handler((TEvent)e)));
    }

    /// <summary>Saves <paramref name="snapshot"/> as the state after <see cref="LastSequenceNr"/>; the outcome arrives
    /// as <see cref="SaveSnapshotSuccess"/> or <see cref="SaveSnapshotFailure"/>.</summary>
    protected void SaveSnapshot(object snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var meta = new SnapshotMetadata(PersistenceId, LastSequenceNr, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        IActorRef self = Self;
        Task save;
        try
        {
            var (manifest, payload) = _settings.Serializers.Serialize(snapshot);
            save = _settings.Snapshots.SaveAsync(new SnapshotEntry(meta.PersistenceId, meta.SequenceNr, manifest, payload, meta.Timestamp));
        }
        catch (Exception e) when (e is SerializationException or ArgumentException)
        {
            save = Task.FromException(e);
        }
        save.ContinueWith(t => self.Tell(t.IsCompletedSuccessfully
                ? new SaveSnapshotSuccess(meta)
                : new SaveSnapshotFailure(meta, t.Exception?.InnerException ?? new TaskCanceledException(t)), self),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Deletes this actor's events up to <paramref name="toSequenceNr"/>; the outcome arrives as
    /// <see cref="DeleteMessagesSuccess"/> or <see cref="DeleteMessagesFailure"/>.</summary>
    protected void DeleteMessages(long toSequenceNr)
    {
        IActorRef self = Self;
        _settings.Journal.DeleteToAsync(PersistenceId, toSequenceNr).ContinueWith(t => self.Tell(t.IsCompletedSuccessfully
                ? new DeleteMessagesSuccess(toSequenceNr)
                : new DeleteMessagesFailure(toSequenceNr, t.Exception?.InnerException ?? new TaskCanceledException(t)), self),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Recovery failed; the actor stops after this returns. Default: publish <see cref="RecoveryFailure"/> on the event stream.</summary>
    protected virtual void OnRecoveryFailure(Exception cause, object? evt) =>
        Context.System.EventStream.Publish(new RecoveryFailure(Self, PersistenceId, cause, evt));

    /// <summary>A write failed; the actor stops after this returns. Default: publish <see cref="PersistFailure"/> on the event stream.</summary>
    protected virtual void OnPersistFailure(Exception cause, object evt, long sequenceNr) =>
        Context.System.EventStream.Publish(new PersistFailure(Self, PersistenceId, cause, evt, sequenceNr));

    /// <summary>An event could not be serialized; its handler does not run and the actor goes on. Default: publish <see cref="PersistRejected"/>.</summary>
    protected virtual void OnPersistRejected(Exception cause, object evt, long sequenceNr) =>
        Context.System.EventStream.Publish(new PersistRejected(Self, PersistenceId, cause, evt, sequenceNr));

    // Recovery starts as the instance is made, before PreStart, as Akka starts it in AroundPreStart: user code
    // overriding PreStart cannot forget it, and the mailbox holds commands until it ends.
    internal override void AfterConstruction()
    {
        base.AfterConstruction();
        Cell.RunAsync(RecoverAsync);
    }

    private ActorCell Cell => (ActorCell)Context;

    private async Task RecoverAsync()
    {
        object? current = null;
        try
        {
            SqlJournal.ValidatePersistenceId(PersistenceId);
            SnapshotEntry? snapshot = await _settings.Snapshots.LoadLatestAsync(PersistenceId, _settings.RecoverFromSnapshot);
            long from = 1;
            if (snapshot is not null)
            {
                current = snapshot;
                object state = _settings.Serializers.Deserialize(snapshot.Manifest, snapshot.Payload);
                SnapshotSequenceNr = LastSequenceNr = snapshot.SequenceNr;
                current = new SnapshotOffer(new SnapshotMetadata(PersistenceId, snapshot.SequenceNr, snapshot.Created), state);
                Dispatch(current);
                from = snapshot.SequenceNr + 1;
            }
            long highest = await _settings.Journal.HighestSequenceNrAsync(PersistenceId);
            while (from <= highest)
            {
                IReadOnlyList<JournalEntry> page = await _settings.Journal.ReplayAsync(PersistenceId, from, highest, _settings.ReplayPageSize);
                if (page.Count == 0) break;
                foreach (JournalEntry e in page)
                {
                    current = e;
                    current = _settings.Serializers.Deserialize(e.Manifest, e.Payload);
                    Dispatch(current);
                    LastSequenceNr = e.SequenceNr;
                }
                from = page[^1].SequenceNr + 1;
            }
            // Deleted events still count: the next event must not reuse their numbers.
            LastSequenceNr = Math.Max(LastSequenceNr, highest);
            _recovering = false;
            current = RecoveryCompleted.Instance;
            Dispatch(current);
        }
        catch (Exception e)
        {
            _recovering = false;
            OnRecoveryFailure(e, current);
            Context.Stop(Self);
        }
    }

    private async Task WritePendingAsync()
    {
        while (_pending.TryDequeue(out PendingWrite? write))
        {
            var entries = new JournalEntry[write.Events.Length];
            for (int i = 0; i < entries.Length; i++)
            {
                object evt = write.Events[i];
                try
                {
                    var (manifest, payload) = _settings.Serializers.Serialize(evt);
                    entries[i] = new JournalEntry(PersistenceId, LastSequenceNr + 1 + i, manifest, payload);
                }
                catch (SerializationException e)
                {
                    OnPersistRejected(e, evt, LastSequenceNr + 1 + i);
                    entries = [];
                    break;
                }
            }
            if (entries.Length == 0) continue;
            try
            {
                await _settings.Journal.WriteAsync(entries);
            }
            catch (Exception e)
            {
                _pending.Clear();
                OnPersistFailure(e, write.Events[0], entries[0].SequenceNr);
                Context.Stop(Self);
                return;
            }
            LastSequenceNr = entries[^1].SequenceNr;
            _mayPersist = true;
            try
            {
                foreach (object evt in write.Events) write.Handler(evt);
            }
            finally { _mayPersist = false; }
        }
    }

    private void Dispatch(object message)
    {
        foreach (RecoverHandler h in _recoverHandlers)
        {
            if (h.Type.IsInstanceOfType(message))
            {
                h.Handle(message);
                return;
            }
        }
        if (message is not (RecoveryCompleted or SnapshotOffer)) Unhandled(message);
    }

    private sealed record RecoverHandler(Type Type, Action<object> Handle);

    private sealed record PendingWrite(object[] Events, Action<object> Handler);
}
