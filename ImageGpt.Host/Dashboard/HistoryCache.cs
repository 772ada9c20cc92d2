using Akka.Actor;
using ImageGpt.Actors.History;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The run's history read through Akka.Persistence.Query only when it may have changed: a query of the journal costs
/// about a tenth of a CPU-second here, so an open page must not ask for one every poll. <paramref name="version"/> says
/// cheaply whether the store was written since the last read (the training process counts the checkpoints and evaluations
/// it announces; a reader from outside looks at the SQLite files); without such a signal (null), or as a safety net for
/// events nobody announces (pruning, the end of the run), the history is read again after <paramref name="maxAge"/>.
/// Concurrent requests share one query.
/// </summary>
public sealed class HistoryCache(ActorSystem system, string runId, Func<long?> version, TimeSpan maxAge, TimeSpan maxAgeWithoutSignal)
{
    private readonly Lock _lock = new();
    private Task<RunHistory>? _current;
    private DateTime _startedUtc;
    private long? _readVersion;

    /// <summary>Why the last read failed, or null.</summary>
    public string? Problem { get; private set; }

    public Task<RunHistory> GetAsync(CancellationToken ct)
    {
        Task<RunHistory> task;
        lock (_lock)
        {
            long? now = version();
            TimeSpan age = DateTime.UtcNow - _startedUtc;
            bool fresh = _current is { } c && (!c.IsCompleted
                || (c.IsCompletedSuccessfully && (now is null ? age < maxAgeWithoutSignal : now == _readVersion && age < maxAge)));
            if (!fresh)
            {
                // The version before the query: a write during the query makes the next request read again.
                (_startedUtc, _readVersion) = (DateTime.UtcNow, now);
                _current = ReadAsync();
            }
            task = _current!;
        }
        return task.WaitAsync(ct);
    }

    private async Task<RunHistory> ReadAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            RunHistory history = await RunJournal.ReadAsync(system, runId, timeout.Token).ConfigureAwait(false);
            Problem = null;
            return history;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Problem = $"reading the history of run '{runId}' failed: {e.GetType().Name}: {e.Message}";
            throw new InvalidOperationException(Problem, e);
        }
    }
}
