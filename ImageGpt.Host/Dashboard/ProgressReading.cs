using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Model;

namespace ImageGpt.Host.Dashboard;

/// <summary>Puts /api/run together from what a source has: status.json, the last step report, the run's shape and history.</summary>
public static class ProgressReading
{
    /// <param name="configuredSteps">train.steps when the source knows the config (the run's own process)</param>
    public static RunProgress Build(string runId, RunStatus? status, StepReport? report, RunShape? shape, bool live, RunHistory? history, long? configuredSteps = null)
    {
        long total = history?.Started?.TotalSteps ?? status?.Steps ?? configuredSteps ?? report?.TotalSteps ?? 0;
        long step = Math.Max(report?.Step ?? 0, status?.Step ?? 0);
        // Before the run's first status.json: its process is preparing the data (live) or nothing is known yet.
        string phase = status?.Phase.ToString().ToLowerInvariant() ?? Ending(history?.Ended) ?? (report is not null ? "training" : live ? "starting" : "unknown");
        double? tokens = report?.TokensPerSecond ?? status?.TokensPerSecond;
        double? eta = phase == "training" && tokens > 0 && shape is not null ? (total - step) * shape.TokensPerStep / tokens : null;
        double? loss = Finite(report?.Loss ?? status?.Loss);
        return new RunProgress(
            runId, phase, live, status?.Pid, status?.UpdatedUtc, step, total, report?.Epoch,
            loss, loss / Math.Log(2), Finite(report?.Lr), Finite(tokens),
            Finite(report?.Mfu) ?? (shape is { Cores: > 0 } && Finite(tokens) is { } t && t >= 0 ? Mfu.Of(shape.FlopsPerToken, t, shape.Cores) : null),
            Finite(report?.TrainerBusyFraction), Finite(report?.DataWaitFraction ?? status?.DataWaitFraction),
            Finite(report?.ElapsedSeconds), Finite(eta), status?.Error,
            history?.Checkpoints.Count ?? 0, history?.Evaluations.Count ?? 0, history?.Events ?? 0, Describe(history?.Ended));
    }

    public static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;

    private static string? Ending(IRunEvent? e) => e switch
    {
        RunFinished => "finished",
        RunStopped => "stopped",
        RunFailed => "failed",
        _ => null,
    };

    private static string? Describe(IRunEvent? e) => e switch
    {
        RunFinished f => $"finished at step {f.Step}",
        RunStopped s => $"stopped at step {s.Step} ({s.Reason}); --resume continues it",
        RunFailed f => $"failed at step {f.Step}: {f.Error}",
        _ => null,
    };
}
