using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Training;

/// <summary>Where a run reports what happens (console, metrics files, tests). Called from actor threads.</summary>
public interface ITrainingObserver
{
    void Step(StepReport report);
    void CheckpointSaved(long step, double seconds, bool final);
    void Evaluation(EvaluationRecorded result, string table);
    void Warning(string message);
}

/// <summary>Forwards every call to several observers, serialised by a lock.</summary>
public sealed class Observers(params ITrainingObserver[] observers) : ITrainingObserver
{
    private readonly Lock _lock = new();

    public void Step(StepReport report) { lock (_lock) foreach (var o in observers) o.Step(report); }
    public void CheckpointSaved(long step, double seconds, bool final) { lock (_lock) foreach (var o in observers) o.CheckpointSaved(step, seconds, final); }
    public void Evaluation(EvaluationRecorded result, string table) { lock (_lock) foreach (var o in observers) o.Evaluation(result, table); }
    public void Warning(string message) { lock (_lock) foreach (var o in observers) o.Warning(message); }
}
