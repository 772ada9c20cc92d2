using System.Globalization;
using System.Runtime;
using Akka.Actor;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>What the evaluator needs; shared by all its incarnations (the raw-pixel baseline is measured once per process).</summary>
public sealed record EvaluatorSetup(
    GptConfig Config, RunEvalData Data, RunEvalOptions Options, Nn.Palette.Palette Palette,
    IActorRef History, string RunDir, ITrainingObserver Observer)
{
    internal bool BaselineDone;
}

/// <summary>
/// Evaluates saved checkpoints (<see cref="CheckpointSaved"/> events) on its own compute thread: validation loss, the
/// linear probe of every layer, half-image completions; journals an <see cref="EvaluationRecorded"/> and reports the
/// table. One evaluation runs at a time and at most one checkpoint waits: an evaluator that falls behind evaluates the
/// newest and reports which ones it skipped. <see cref="Drain"/> is answered when nothing runs or waits.
/// </summary>
public sealed class EvaluatorActor : MonitoredActor
{
    private static readonly TimeSpan HistoryTimeout = TimeSpan.FromMinutes(10);

    private sealed record Evaluated(EvaluationRecorded Result);

    private readonly EvaluatorSetup _s;
    private readonly List<long> _skipped = [];
    private readonly List<IActorRef> _drainers = [];
    private DeviceThread? _device;
    private CheckpointSaved? _pending;
    private bool _busy;

    public EvaluatorActor(EvaluatorSetup setup)
    {
        _s = setup;
        Receive<CheckpointSaved>(m =>
        {
            if (!_busy) { Start(m); return; }
            if (_pending is { } older) _skipped.Add(older.Step);
            _pending = m;
        });
        Receive<Evaluated>(m =>
        {
            _s.Observer.Evaluation(m.Result, Format(m.Result));
            _busy = false;
            if (_pending is { } next)
            {
                _pending = null;
                Start(next);
            }
            else
            {
                foreach (var d in _drainers) d.Tell(new Drained());
                _drainers.Clear();
            }
        });
        // A failed evaluation is this actor's failure: its supervisor restarts it after a backoff.
        Receive<Status.Failure>(f => throw new EvaluationFailedException(f.Cause));
        Receive<Drain>(_ =>
        {
            if (_busy) _drainers.Add(Sender);
            else Sender.Tell(new Drained());
        });
    }

    protected override void PreStart() => _device = new DeviceThread("evaluator");

    protected override void PostStop() => _device?.Dispose();

    private void Start(CheckpointSaved m)
    {
        _busy = true;
        long[] skipped = [.. _skipped];
        _skipped.Clear();
        if (skipped.Length > 0)
            _s.Observer.Warning($"the evaluator fell behind: evaluating step {m.Step}, skipping step(s) {string.Join(", ", skipped)}");
        bool baseline = !_s.BaselineDone;
        _s.BaselineDone = true;
        EvaluateAsync(m, skipped, baseline).PipeTo(Self, success: r => new Evaluated(r));
    }

    private async Task<EvaluationRecorded> EvaluateAsync(CheckpointSaved m, long[] skipped, bool baseline)
    {
        var s = _s;
        var parameters = new ParameterSlab(s.Config);
        m.Parameters.AsSpan().CopyTo(parameters.Data);
        string png = Path.Combine(s.RunDir, string.Create(CultureInfo.InvariantCulture, $"completions-step-{m.Step}.png"));
        var outcome = await _device!.Run(() =>
        {
            var o = RunEvaluation.Evaluate(parameters, s.Data, s.Options, s.Palette, s.Options.Completions > 0 ? png : null, baseline);
            ReleaseEvaluationMemory();
            return o;
        }).ConfigureAwait(false);
        var rows = outcome.Probe?.Table.Rows.Select(r => new ProbeRow(r.Layer, r.BestC, r.ValidationAccuracy, r.TestAccuracy)).ToList() ?? [];
        ProbeRow? raw = outcome.Probe?.Baseline is { } b ? new ProbeRow("raw pixels", b.BestC, b.ValidationAccuracy, b.TestAccuracy) : null;
        var result = new EvaluationRecorded(m.Step, outcome.Validation?.NatsPerToken ?? double.NaN, outcome.Validation?.BitsPerToken ?? double.NaN,
            rows, raw, outcome.CompletionsPng, outcome.Seconds, skipped, DateTimeOffset.UtcNow);
        await s.History.Ask<RunHistoryActor.Recorded>(new RunHistoryActor.Record(result), HistoryTimeout).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// An evaluation's models, features and probe data are garbage once it ends: hundreds of MB for the default run, most of
    /// it in the large-object heap, which the GC does not compact on its own. Compacting it here (one blocking collection
    /// per evaluation, tens of milliseconds) keeps the next evaluation from growing the heap around the last one's holes:
    /// the run's peak RSS is training plus one evaluation (measured: 1.29 GB without this, see the closing note of issue 9).
    /// </summary>
    private static void ReleaseEvaluationMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>The compact table printed after each evaluation.</summary>
    public static string Format(EvaluationRecorded r)
    {
        var ci = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.Append(ci, $"evaluation of step {r.Step} ({r.Seconds:F1} s)");
        if (!double.IsNaN(r.ValidationNats)) text.Append(ci, $": validation loss {r.ValidationNats:F4} nats/token = {r.ValidationBits:F4} bits/token");
        text.AppendLine();
        var rows = r.RawPixels is { } raw ? [.. r.Probe, raw] : r.Probe;
        if (rows.Count > 0)
        {
            text.AppendLine("  layer        best C   val %   test %   (in-run probe: eval.probe subsets)");
            foreach (var p in rows)
                text.AppendLine(string.Create(ci, $"  {p.Layer,-10} {p.BestC,8:G3} {100 * p.ValidationAccuracy,7:F2} {100 * p.TestAccuracy,8:F2}"));
        }
        if (r.CompletionsPng is not null) text.AppendLine($"  completions: {r.CompletionsPng}");
        return text.ToString().TrimEnd('\n');
    }

    /// <summary>An evaluation threw; the evaluator fails with this so that its supervisor restarts it.</summary>
    private sealed class EvaluationFailedException(Exception cause) : Exception($"evaluation failed: {cause.Message}", cause);
}
