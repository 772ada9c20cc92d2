namespace ImageGpt.Actors.History;

/// <summary>The folded history in the snapshot store, so that a long run's actor recovers from it and the events after it.</summary>
public sealed record RunHistorySnapshot(
    RunStarted? Started, IReadOnlyList<RunResumed> Resumes, IReadOnlyList<CheckpointCommitted> Checkpoints,
    IReadOnlyList<EvaluationRecorded> Evaluations, RunStopped? Stopped, RunFinished? Finished, RunFailed? Failed, long Events);
