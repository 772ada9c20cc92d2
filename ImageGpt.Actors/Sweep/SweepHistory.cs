using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Sweep;

/// <summary>A sweep's history folded from its events: how it started, the values done (by index) and the choice.</summary>
public sealed class SweepHistory
{
    private readonly SortedDictionary<int, SweepValueFinished> _finished = [];

    public SweepStarted? Started { get; private set; }

    /// <summary>The values whose runs ended, by their index in <see cref="SweepStarted.Values"/>.</summary>
    public IReadOnlyDictionary<int, SweepValueFinished> Finished => _finished;

    public SweepChosen? Chosen { get; private set; }

    /// <summary>Whether these events are a sweep's (its first is <see cref="SweepStarted"/>), not a run's.</summary>
    public static bool IsSweep(IReadOnlyList<IRunEvent> events) => events.Count > 0 && events[0] is SweepStarted;

    public void Apply(IRunEvent e)
    {
        switch (e)
        {
            case SweepStarted s: Started = s; break;
            case SweepValueFinished v: _finished[v.Index] = v; break;
            case SweepChosen c: Chosen = c; break;
            default: throw new ArgumentException($"{e.GetType().Name} is not a sweep event", nameof(e));
        }
    }

    public static SweepHistory Of(IEnumerable<IRunEvent> events)
    {
        var h = new SweepHistory();
        foreach (IRunEvent e in events) h.Apply(e);
        return h;
    }

    /// <summary>Each value's loss in nats per token in the order given: NaN for a value not done yet or diverged.</summary>
    public IReadOnlyList<double> Losses(int count) =>
        Enumerable.Range(0, count).Select(i => _finished.TryGetValue(i, out var v) ? v.ValidationNats : double.NaN).ToList();
}
