using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The training process's observer for its dashboard: keeps the last step report and the loss of every step. Called on
/// the aggregator's thread once per step, it only stores (a lock held for an append), so the dashboard costs the run nothing
/// when no one looks.
/// </summary>
public sealed class RunFeed : ITrainingObserver
{
    private readonly Lock _lock = new();
    private readonly List<LossPoint> _loss = [];
    private StepReport? _last;

    public StepReport? Last { get { lock (_lock) return _last; } }

    public IReadOnlyList<LossPoint> Loss() { lock (_lock) return _loss.ToArray(); }

    public void Step(StepReport report)
    {
        lock (_lock)
        {
            _last = report;
            _loss.Add(new LossPoint(report.Step, report.Loss));
        }
    }

    public void CheckpointSaved(long step, double seconds, bool final) { }
    public void Evaluation(EvaluationRecorded result, string table) { }
    public void Warning(string message) { }
}
