using ImageGpt.Actors.History;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// What the dashboard reads about a run: <see cref="LiveRunSource"/> inside the training process,
/// <see cref="StoredRunSource"/> from a run's directory and store. Every member returns a snapshot at once and never
/// waits on an actor; the history is a query of the journal, cached until the store changes.
/// </summary>
public interface IRunSource
{
    string RunId { get; }

    /// <summary>Where the run's files are (completions PNGs, safetensors), or null when the dashboard reads a store only.</summary>
    string? RunDir { get; }

    RunProgress Progress(RunHistory? history);

    ClusterState Cluster();

    /// <summary>The training loss as logged (nats per token), oldest first.</summary>
    IReadOnlyList<LossPoint> TrainingLoss();

    /// <summary>The run's events, folded; read from the journal again only when the store may have changed (<see cref="HistoryCache"/>).</summary>
    Task<RunHistory> HistoryAsync(CancellationToken ct);

    /// <summary>Null when ready, else why not.</summary>
    string? NotReady();
}
