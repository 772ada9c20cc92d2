using Akka.Actor;
using Akka.Persistence;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Sweep;

/// <summary>
/// Reads and writes a sweep's history in the sweep's store: the events through Akka.Persistence.Query (as a run's), the
/// writes through a persistent actor whose id is the sweep's, each one acknowledged once it is durable.
/// </summary>
public sealed class SweepJournal
{
    private static readonly TimeSpan WriteTimeout = TimeSpan.FromMinutes(5);

    private readonly IActorRef _writer;

    public SweepJournal(ActorSystem system, string sweepId)
    {
        SweepId = sweepId;
        _writer = system.ActorOf(Props.Create(() => new Writer(sweepId)), "sweep-history");
    }

    public string SweepId { get; }

    /// <summary>The sweep's events so far, folded (empty when it has none).</summary>
    public static async Task<SweepHistory> ReadAsync(ActorSystem system, string sweepId)
    {
        var events = await RunJournal.EventsAsync(system, sweepId).ConfigureAwait(false);
        if (events.Count > 0 && !SweepHistory.IsSweep(events))
            throw new Nn.UserError($"the store already holds a run '{sweepId}' that is not a sweep. HINT: pass another --run-dir (or run.id) for the sweep");
        return SweepHistory.Of(events);
    }

    /// <summary>Journals <paramref name="e"/>; returns once it is durable.</summary>
    public Task RecordAsync(IRunEvent e) => _writer.Ask<Recorded>(new Record(e), WriteTimeout);

    private sealed record Record(IRunEvent Event);

    private sealed record Recorded;

    /// <summary>Journals what it is sent; its state is the journal itself (the sequence number Akka recovers).</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private IActorRef _asking = ActorRefs.Nobody;

        public Writer(string sweepId)
        {
            PersistenceId = sweepId;
            Recover<IRunEvent>(_ => { });
            Command<Record>(m =>
            {
                _asking = Sender;
                Persist(m.Event, _ => _asking.Tell(new Recorded()));
            });
        }

        public override string PersistenceId { get; }

        // Akka stops a persistent actor whose write failed; the one waiting learns why at once instead of timing out.
        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
        {
            _asking.Tell(new Status.Failure(cause));
            base.OnPersistFailure(cause, @event, sequenceNr);
        }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
        {
            _asking.Tell(new Status.Failure(cause));
            base.OnPersistRejected(cause, @event, sequenceNr);
        }
    }
}
