namespace ImageGpt.Actors.Training;

/// <summary>
/// One optimizer step as the aggregator saw it. Rates are over the last 20 steps. DataWaitFraction: share
/// of the trainers' time spent waiting for batches; TrainerBusyFraction: share of the trainers' wall time
/// spent on shards that counted (the rest is the step barrier, the optimizer step and messaging).
/// </summary>
public sealed record StepReport(
    long Step, long TotalSteps, long Epoch, float Loss, float GradNorm, float Lr,
    double TokensPerSecond, double DataWaitFraction, double TrainerBusyFraction, double ElapsedSeconds);

/// <summary>Where a run reports what happens (console, metrics files, tests). Called from actor threads, one call at a time per actor.</summary>
public interface ITrainingObserver
{
    void Step(StepReport report);
    void CheckpointSaved(long step, double seconds, bool final);
    void Evaluation(EvalResult result, string table);
    void Warning(string message);
}

/// <summary>Forwards every call to several observers, serialised by a lock.</summary>
public sealed class Observers(params ITrainingObserver[] observers) : ITrainingObserver
{
    private readonly Lock _lock = new();

    public void Step(StepReport report) { lock (_lock) foreach (var o in observers) o.Step(report); }
    public void CheckpointSaved(long step, double seconds, bool final) { lock (_lock) foreach (var o in observers) o.CheckpointSaved(step, seconds, final); }
    public void Evaluation(EvalResult result, string table) { lock (_lock) foreach (var o in observers) o.Evaluation(result, table); }
    public void Warning(string message) { lock (_lock) foreach (var o in observers) o.Warning(message); }
}

/// <summary>The live numbers status.json reports, written by the aggregator and read by the status timer.</summary>
public sealed class LiveProgress
{
    /// <summary>The step the aggregator is collecting; trainers skip requests for older steps.</summary>
    public long CurrentStep;

    private StepReport? _last;
    public StepReport? Last { get => Volatile.Read(ref _last); set => Volatile.Write(ref _last, value); }
}
