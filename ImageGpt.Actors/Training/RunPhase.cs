namespace ImageGpt.Actors.Training;

/// <summary>Where a run is, as status.json and `imagegpt status` report it.</summary>
public enum RunPhase
{
    Training,
    /// <summary>Asked to stop: finishing the step in flight and writing the final checkpoint.</summary>
    Stopping,
    /// <summary>The last step is done; the evaluator finishes the evaluations queued before the end.</summary>
    Evaluating,
    Finished,
    /// <summary>Stopped early (Ctrl-C, SIGTERM); --resume continues it.</summary>
    Stopped,
    Failed,
}
