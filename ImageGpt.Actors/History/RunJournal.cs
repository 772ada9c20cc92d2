using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace ImageGpt.Actors.History;

/// <summary>
/// Reads runs' histories through Akka.Persistence.Query (the SQL read journal), the same way from the training
/// process, from `imagegpt status` in another process, for a live run or a finished one.
/// </summary>
public static class RunJournal
{
    public const string ReadJournalId = "akka.persistence.query.journal.sql";

    /// <summary>
    /// The read journal. Akka.Persistence.Sql's waits only 5 s for the write journal to start (create its tables,
    /// warm its driver); on a loaded machine that can take longer, so creating it is tried again for a while.
    /// </summary>
    public static SqlReadJournal Of(ActorSystem system)
    {
        var patience = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try { return PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(ReadJournalId); }
            catch (AggregateException e) when (e.InnerException is AskTimeoutException && patience.Elapsed < StartPatience) { }
            catch (AskTimeoutException) when (patience.Elapsed < StartPatience) { }
        }
    }

    /// <summary>How long the write journal may take to start before reading fails.</summary>
    public static readonly TimeSpan StartPatience = TimeSpan.FromMinutes(2);

    /// <summary>Every event of the run so far, folded; an empty history when the run has none.</summary>
    /// <exception cref="Nn.UserError"><paramref name="runId"/> is a sweep's id, not a run's.</exception>
    public static async Task<RunHistory> ReadAsync(ActorSystem system, string runId, CancellationToken ct = default)
    {
        var events = await EventsAsync(system, runId, ct).ConfigureAwait(false);
        if (Sweep.SweepHistory.IsSweep(events))
            throw new Nn.UserError($"'{runId}' is a sweep, not a run. HINT: imagegpt status --run-dir <the sweep's directory> shows its table; each value's run is in a folder inside it, under its own run id");
        return RunHistory.Of(events);
    }

    /// <summary>Every event journaled under <paramref name="persistenceId"/> so far, oldest first (a run's or a sweep's).</summary>
    public static async Task<IReadOnlyList<IRunEvent>> EventsAsync(ActorSystem system, string persistenceId, CancellationToken ct = default)
    {
        var envelopes = await Of(system).CurrentEventsByPersistenceId(persistenceId, 0, long.MaxValue)
            .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer()).WaitAsync(ct).ConfigureAwait(false);
        return envelopes.Select(e => (IRunEvent)e.Event).ToList();
    }

    /// <summary>The ids of every run in the store.</summary>
    public static async Task<IReadOnlyList<string>> RunIdsAsync(ActorSystem system, CancellationToken ct = default) =>
        await Of(system).CurrentPersistenceIds().RunWith(Sink.Seq<string>(), system.Materializer()).WaitAsync(ct).ConfigureAwait(false);
}
