using Akka.Actor;
using ImageGpt.Actors.History;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The run's history read through Akka.Persistence.Query at most once per <paramref name="maxAge"/>, however many
/// requests ask: concurrent readers share one query, so an open page costs the store one read every couple of seconds.
/// </summary>
public sealed class HistoryCache(ActorSystem system, string runId, TimeSpan maxAge)
{
    private readonly Lock _lock = new();
    private Task<RunHistory>? _current;
    private DateTime _startedUtc;

    /// <summary>Why the last read failed, or null.</summary>
    public string? Problem { get; private set; }

    public Task<RunHistory> GetAsync(CancellationToken ct)
    {
        Task<RunHistory> task;
        lock (_lock)
        {
            bool fresh = _current is { } c && (!c.IsCompleted || DateTime.UtcNow - _startedUtc < maxAge);
            if (!fresh)
            {
                _startedUtc = DateTime.UtcNow;
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
