namespace ImageGpt.Actors.History;

/// <summary>
/// A run's history folded from its events: how it started, the checkpoints whose payloads still exist (a step
/// committed again replaces its earlier event), the evaluations by step, and how the last attempt ended. The
/// persistent actor keeps one as its state; readers build one from a query of the journal.
/// </summary>
public sealed class RunHistory
{
    private readonly List<RunResumed> _resumes = [];
    private readonly SortedDictionary<long, CheckpointCommitted> _checkpoints = [];
    private readonly SortedDictionary<long, EvaluationRecorded> _evaluations = [];

    public RunStarted? Started { get; private set; }
    public IReadOnlyList<RunResumed> Resumes => _resumes;

    /// <summary>Checkpoints with a payload, oldest first.</summary>
    public IReadOnlyList<CheckpointCommitted> Checkpoints => _checkpoints.Values.ToList();

    public IReadOnlyList<EvaluationRecorded> Evaluations => _evaluations.Values.ToList();

    /// <summary>How the last attempt ended (RunStopped, RunFinished or RunFailed); null while one runs or was killed.</summary>
    public IRunEvent? Ended { get; private set; }

    public long Events { get; private set; }

    public void Apply(IRunEvent e)
    {
        Events++;
        switch (e)
        {
            case RunStarted s: Started = s; break;
            case RunResumed r: _resumes.Add(r); Ended = null; break;
            case CheckpointCommitted c: _checkpoints[c.Step] = c; break;
            case CheckpointsPruned p: foreach (long step in p.Steps) _checkpoints.Remove(step); break;
            case EvaluationRecorded v: _evaluations[v.Step] = v; break;
            case RunStopped or RunFinished or RunFailed: Ended = e; break;
            default: throw new ArgumentException($"unknown run event {e.GetType().Name}", nameof(e));
        }
    }

    public static RunHistory Of(IEnumerable<IRunEvent> events)
    {
        var h = new RunHistory();
        foreach (IRunEvent e in events) h.Apply(e);
        return h;
    }

    public RunHistorySnapshot ToSnapshot() => new(Started, _resumes.ToList(), Checkpoints, Evaluations,
        Ended as RunStopped, Ended as RunFinished, Ended as RunFailed, Events);

    public static RunHistory FromSnapshot(RunHistorySnapshot s)
    {
        var h = new RunHistory { Started = s.Started, Ended = (IRunEvent?)s.Stopped ?? (IRunEvent?)s.Finished ?? s.Failed, Events = s.Events };
        h._resumes.AddRange(s.Resumes);
        foreach (CheckpointCommitted c in s.Checkpoints) h._checkpoints[c.Step] = c;
        foreach (EvaluationRecorded v in s.Evaluations) h._evaluations[v.Step] = v;
        return h;
    }
}
