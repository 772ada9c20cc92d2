using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host;

/// <summary>
/// Training progress on the console. On a terminal: one bar redrawn in place (at most 5 times a
/// second); when output is redirected: a plain line every <c>every</c> steps. Warnings, checkpoints
/// and evaluation tables get lines of their own.
/// </summary>
public sealed class ConsoleProgress(TextWriter output, bool interactive, int every) : ITrainingObserver
{
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private bool _barShown;

    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
    }

    public static string Line(StepReport r, long startStep)
    {
        double done = r.Step - startStep, left = r.TotalSteps - r.Step;
        double eta = done > 0 ? r.ElapsedSeconds / done * left : double.NaN;
        return string.Create(CultureInfo.InvariantCulture,
            $"step {r.Step}/{r.TotalSteps} ({100.0 * r.Step / r.TotalSteps:F1}%) epoch {r.Epoch} | loss {r.Loss:F4} ({r.Loss / Math.Log(2):F3} bits) | lr {r.Lr:0.###e0} | " +
            $"{r.TokensPerSecond / 1000:F1}k tok/s | data wait {100 * r.DataWaitFraction:F1}%, trainers busy {100 * r.TrainerBusyFraction:F0}% | {Duration(r.ElapsedSeconds)} elapsed, eta {Duration(eta)}");
    }

    public long StartStep { get; set; }

    public void Step(StepReport r)
    {
        if (!interactive)
        {
            if (r.Step % every == 0 || r.Step == r.TotalSteps) output.WriteLine(Line(r, StartStep));
            return;
        }
        if (_sinceDraw.ElapsedMilliseconds < 200 && r.Step != r.TotalSteps) return;
        _sinceDraw.Restart();
        const int width = 24;
        int filled = (int)(width * r.Step / Math.Max(1, r.TotalSteps));
        output.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {Line(r, StartStep)}\u001b[K");
        _barShown = true;
        if (r.Step == r.TotalSteps) EndBar();
    }

    public void CheckpointSaved(long step, double seconds, bool final) =>
        Print(string.Create(CultureInfo.InvariantCulture, $"checkpoint step {step} saved ({seconds:F2} s){(final ? ", final" : "")}"));

    public void Evaluation(EvaluationRecorded result, string table) => Print(table);

    public void Warning(string message) => Print($"warning: {message}");

    private void Print(string text)
    {
        EndBar();
        output.WriteLine(text);
    }

    private void EndBar()
    {
        if (!_barShown) return;
        output.WriteLine();
        _barShown = false;
    }
}
