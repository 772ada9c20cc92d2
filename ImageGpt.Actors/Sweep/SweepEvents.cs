using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Sweep;

// The events of a sweep's history, journaled in the sweep's store under the sweep's id (beside the runs of its
// values, each under its own run id) and read back by `imagegpt sweep` when it resumes and by `imagegpt status`.

/// <summary>
/// A sweep began: the setting <c>Key</c> takes each of <c>Values</c> (as written, in the order given) in a run of its own
/// (<c>RunIds</c>, same order), everything else as in <c>IdentityJson</c> (the settings that decide the weights of the
/// first value's run, and the validation subset's size and seed). A sweep resumed with another key, list or config is
/// refused by comparing these.
/// </summary>
public sealed record SweepStarted(string SweepId, string Key, IReadOnlyList<string> Values, IReadOnlyList<string> RunIds,
    string IdentityJson, DateTimeOffset At) : IRunEvent;

/// <summary>
/// The run of value <c>Index</c> ended at <c>Step</c> (its last) with this validation loss (the evaluator's, at that
/// step), or diverged (<c>Diverged</c> says how; the losses are then NaN): a value recorded here is never trained again.
/// </summary>
public sealed record SweepValueFinished(int Index, string Value, string RunId, long Step, double ValidationNats, double ValidationBits,
    string? Diverged, DateTimeOffset At) : IRunEvent;

/// <summary>Every value is done; the choice is value <c>Index</c> (null: every run diverged), by <see cref="SweepChoice.FirstLocalMinimum"/>.</summary>
public sealed record SweepChosen(int? Index, string? Value, DateTimeOffset At) : IRunEvent;
