using ImageGpt.Actors.Training;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>A store double for the actor tests: keeps deep copies, so nothing a run does later changes what was saved.</summary>
public sealed class InMemoryRunStore : IRunStore
{
    private readonly SortedDictionary<long, Checkpoint> _checkpoints = [];
    private readonly SortedDictionary<long, EvalResult> _evals = [];
    private readonly Lock _lock = new();

    public int Saves { get; private set; }

    public Task SaveCheckpointAsync(Checkpoint c, CancellationToken ct = default)
    {
        lock (_lock)
        {
            _checkpoints[c.Step] = c with { Parameters = (float[])c.Parameters.Clone(), AdamM = (float[])c.AdamM.Clone(), AdamV = (float[])c.AdamV.Clone() };
            Saves++;
        }
        return Task.CompletedTask;
    }

    public Task<Checkpoint?> LoadLatestCheckpointAsync(Action<string> warn, CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult(_checkpoints.Count == 0 ? null : _checkpoints.Values.Last());
    }

    public Task<IReadOnlyList<CheckpointInfo>> ListCheckpointsAsync(CancellationToken ct = default)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlyList<CheckpointInfo>>(_checkpoints.Values
                .Select(c => new CheckpointInfo(c.Step, DateTimeOffset.UnixEpoch, c.Parameters.Length * 12L, "")).ToList());
    }

    public Task PruneCheckpointsAsync(int keep, CancellationToken ct = default)
    {
        lock (_lock)
            foreach (var step in _checkpoints.Keys.SkipLast(keep).ToList()) _checkpoints.Remove(step);
        return Task.CompletedTask;
    }

    public Task SaveEvalAsync(EvalResult result, CancellationToken ct = default)
    {
        lock (_lock) _evals[result.Step] = result;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<EvalResult>> ListEvalsAsync(CancellationToken ct = default)
    {
        lock (_lock) return Task.FromResult<IReadOnlyList<EvalResult>>(_evals.Values.ToList());
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
