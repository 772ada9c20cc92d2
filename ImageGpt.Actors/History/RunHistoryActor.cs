using Akka.Actor;
using Akka.Persistence;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.History;

/// <summary>
/// The run's history as an event-sourced actor (persistence id = run id): it journals each event it is asked to
/// record and replies <see cref="Recorded"/> once the event is durable, so that a sender acts only on what a
/// restart would see again. It recovers from its last snapshot and the events after it, and snapshots every
/// <see cref="SnapshotEvery"/> events. A failed write stops it (Akka's rule for persistent actors: the state is no
/// longer known to match the journal); its parent tells the run why.
/// </summary>
public sealed class RunHistoryActor : MonitoredPersistentActor
{
    public const int SnapshotEvery = 200;

    /// <summary>Journal this event, then reply <see cref="Recorded"/>.</summary>
    public sealed record Record(IRunEvent Event);

    public sealed record Recorded(long SequenceNr, IRunEvent Event);

    /// <summary>Replies with the folded history as a <see cref="RunHistorySnapshot"/>.</summary>
    public sealed record GetHistory;

    /// <summary>To the parent before this actor stops on a failed write.</summary>
    public sealed record WriteFailed(string Reason);

    private RunHistory _history = new();

    public RunHistoryActor(string runId)
    {
        PersistenceId = runId;
        Recover<SnapshotOffer>(o => _history = RunHistory.FromSnapshot((RunHistorySnapshot)o.Snapshot));
        Recover<IRunEvent>(e => _history.Apply(e));
        Command<Record>(m =>
        {
            IActorRef sender = Sender;
            Persist(m.Event, e =>
            {
                _history.Apply(e);
                sender.Tell(new Recorded(LastSequenceNr, e));
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_history.ToSnapshot());
            });
        });
        Command<GetHistory>(_ => Sender.Tell(_history.ToSnapshot()));
        // Only the newest snapshot is needed to recover. An actor stopped before its save is confirmed keeps the older one
        // until the next save; recovery reads the newest either way.
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId { get; }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Context.Parent.Tell(new WriteFailed($"{@event.GetType().Name} could not be journaled: {cause.GetType().Name}: {cause.Message}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        Context.Parent.Tell(new WriteFailed($"{@event.GetType().Name} was rejected by the journal: {cause.GetType().Name}: {cause.Message}"));
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Context.Parent.Tell(new WriteFailed($"the run's history could not be read back: {reason.GetType().Name}: {reason.Message}"));
        base.OnRecoveryFailure(reason, message);
    }
}
