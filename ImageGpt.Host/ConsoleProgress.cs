using System.Collections.Concurrent;
using System.Globalization;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using Spectre.Console;

namespace ImageGpt.Host;

/// <summary>
/// Training progress on the console. On a terminal: a Spectre.Console progress bar with the step, loss, tokens/s and ETA,
/// redrawn five times a second, with warnings, checkpoints and evaluation tables printed above it; when output is
/// redirected: a plain line every <c>every</c> steps and the other lines as they come.
/// </summary>
public sealed class ConsoleProgress : ITrainingObserver, IDisposable
{
    private readonly TextWriter _output;
    private readonly int _every;
    private readonly LiveBar? _bar;

    /// <param name="interactive">draw the bar (a terminal); false for plain lines</param>
    public ConsoleProgress(TextWriter output, bool interactive, int every, long startStep = 0)
    {
        (_output, _every, StartStep) = (output, every, startStep);
        if (interactive) _bar = new LiveBar(output, this);
    }

    public long StartStep { get; }

    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
    }

    private static double Eta(StepReport r, long startStep)
    {
        double done = r.Step - startStep, left = r.TotalSteps - r.Step;
        return done > 0 ? r.ElapsedSeconds / done * left : double.NaN;
    }

    public static string Line(StepReport r, long startStep) =>
        string.Create(CultureInfo.InvariantCulture,
            $"step {r.Step}/{r.TotalSteps} ({100.0 * r.Step / r.TotalSteps:F1}%) epoch {r.Epoch} | loss {r.Loss:F4} ({r.Loss / Math.Log(2):F3} bits) | lr {r.Lr:0.###e0} | " +
            $"{r.TokensPerSecond / 1000:F1}k tok/s, MFU {100 * r.Mfu:F1}% | data wait {100 * r.DataWaitFraction:F1}%, trainers busy {100 * r.TrainerBusyFraction:F0}% | {Duration(r.ElapsedSeconds)} elapsed, eta {Duration(Eta(r, startStep))}");

    /// <summary>The bar's caption: what a person watching wants at a glance.</summary>
    public static string Caption(StepReport r, long startStep) =>
        string.Create(CultureInfo.InvariantCulture,
            $"step {r.Step}/{r.TotalSteps} | loss {r.Loss:F4} | {r.TokensPerSecond / 1000:F1}k tok/s, MFU {100 * r.Mfu:F0}% | eta {Duration(Eta(r, startStep))}");

    public void Step(StepReport r)
    {
        if (_bar is not null) _bar.Last = r;
        else if (r.Step % _every == 0 || r.Step == r.TotalSteps) _output.WriteLine(Line(r, StartStep));
    }

    public void CheckpointSaved(long step, double seconds, bool final) =>
        Print(string.Create(CultureInfo.InvariantCulture, $"checkpoint step {step} saved ({seconds:F2} s){(final ? ", final" : "")}"));

    public void Evaluation(EvaluationRecorded result, string table) => Print(table);

    public void Warning(string message) => Print($"warning: {message}");

    private void Print(string text)
    {
        if (_bar is not null) _bar.Print(text);
        else _output.WriteLine(text);
    }

    /// <summary>Stops the bar (drawn one last time) so that what follows prints below it.</summary>
    public void Dispose() => _bar?.Dispose();

    /// <summary>
    /// Spectre.Console's progress display on its own task: observers are called on actor threads, so they only leave the
    /// last report and the lines to print here, and the display's loop draws them.
    /// </summary>
    private sealed class LiveBar : IDisposable
    {
        private readonly IAnsiConsole _console;
        private readonly ConsoleProgress _owner;
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly CancellationTokenSource _done = new();
        private readonly Task _loop;
        private StepReport? _last;

        public LiveBar(TextWriter output, ConsoleProgress owner)
        {
            _owner = owner;
            _console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.Detect, Interactive = InteractionSupport.Yes,
            });
            _loop = Task.Run(RunAsync);
        }

        public StepReport? Last { get => Volatile.Read(ref _last); set => Volatile.Write(ref _last, value); }

        public void Print(string text) => _lines.Enqueue(text);

        private Task RunAsync() =>
            _console.Progress().AutoRefresh(false).AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
                .StartAsync(async context =>
                {
                    ProgressTask task = context.AddTask("starting", maxValue: 1);
                    while (!_done.IsCancellationRequested)
                    {
                        Draw(context, task);
                        try { await Task.Delay(200, _done.Token).ConfigureAwait(false); }
                        catch (OperationCanceledException) { break; }
                    }
                    Draw(context, task);
                });

        private void Draw(ProgressContext context, ProgressTask task)
        {
            // Spectre writes a line over the live display without erasing it first: a line padded to the width covers the bar.
            int width = Math.Max(1, _console.Profile.Width - 1);
            while (_lines.TryDequeue(out string? text))
                foreach (string line in text.Split('\n')) _console.WriteLine(line.PadRight(width));
            if (Last is { } r)
            {
                task.MaxValue = Math.Max(1, r.TotalSteps);
                task.Value = r.Step;
                task.Description = Markup.Escape(Caption(r, _owner.StartStep));
            }
            context.Refresh();
        }

        public void Dispose()
        {
            _done.Cancel();
            _loop.Wait(TimeSpan.FromSeconds(10));
            _done.Dispose();
        }
    }
}
