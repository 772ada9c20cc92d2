using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The training process's observer for its dashboard: keeps the last step report and the loss curve. Called on the
/// aggregator's thread once per step, it only stores (a lock held for an append), so the dashboard costs the run nothing
/// when no one looks. The curve keeps every step until <see cref="MaxPoints"/>, then every second one, every fourth...,
/// so a run of a million steps holds a few thousand points.
/// </summary>
public sealed class RunFeed : ITrainingObserver
{
    public const int MaxPoints = 4096;

    private readonly Lock _lock = new();
    private readonly List<LossPoint> _loss = [];
    private long _stride = 1;
    private long _announced;
    private StepReport? _last;

    /// <summary>How many checkpoints and evaluations the run has announced: the history changed when this did.</summary>
    public long Announced => Interlocked.Read(ref _announced);

    public StepReport? Last { get { lock (_lock) return _last; } }

    public IReadOnlyList<LossPoint> Loss()
    {
        lock (_lock) return _last is { } l && (_loss.Count == 0 || _loss[^1].Step != l.Step) ? [.. _loss, new LossPoint(l.Step, l.Loss)] : _loss.ToArray();
    }

    public void Step(StepReport report)
    {
        lock (_lock)
        {
            _last = report;
            if (report.Step % _stride != 0) return;
            _loss.Add(new LossPoint(report.Step, report.Loss));
            if (_loss.Count < MaxPoints) return;
            _stride *= 2;
            _loss.RemoveAll(p => p.Step % _stride != 0);
        }
    }

    public void CheckpointSaved(long step, double seconds, bool final) => Interlocked.Increment(ref _announced);
    public void Evaluation(EvaluationRecorded result, string table) => Interlocked.Increment(ref _announced);
    public void Warning(string message) { }
}
