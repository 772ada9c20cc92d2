using System.Globalization;
using ImageGpt.Actors.Runtime;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;

namespace ImageGpt.Actors.Training;

/// <summary>What the evaluator needs; shared by all its incarnations.</summary>
public sealed record EvaluatorSetup(
    GptConfig Config, RunEvalData Data, RunEvalOptions Options, Nn.Palette.Palette Palette,
    IRunStore Store, string RunDir, ITrainingObserver Observer);

/// <summary>
/// Evaluates every saved checkpoint (a <see cref="CheckpointSaved"/> event) on its own compute thread (validation loss, linear probe of every
/// layer, half-image completions PNG), persists the result and reports the table. Checkpoints queue
/// in the mailbox and are taken in order; <see cref="Drain"/> answers once those before it are done.
/// </summary>
public sealed class EvaluatorActor : ReceiveActor
{
    private DeviceThread? _device;
    private bool _baselineDone;

    public EvaluatorActor(EvaluatorSetup s)
    {
        ReceiveAsync<CheckpointSaved>(async m =>
        {
            var parameters = new ParameterSlab(s.Config);
            m.Parameters.AsSpan().CopyTo(parameters.Data);
            string png = Path.Combine(s.RunDir, string.Create(CultureInfo.InvariantCulture, $"completions-step-{m.Step}.png"));
            bool baseline = !_baselineDone;
            var outcome = await _device!.Run(() => RunEvaluation.Evaluate(parameters, s.Data, s.Options, s.Palette,
                s.Options.Completions > 0 ? png : null, baseline));
            _baselineDone = true;
            var rows = outcome.Probe?.Table.Rows.Select(r => new ProbeRow(r.Layer, r.BestC, r.ValidationAccuracy, r.TestAccuracy)).ToList() ?? [];
            if (outcome.Probe?.Baseline is { } b) rows.Add(new ProbeRow("raw pixels", b.BestC, b.ValidationAccuracy, b.TestAccuracy));
            var result = new EvalResult(m.Step, outcome.Validation?.NatsPerToken ?? double.NaN, outcome.Validation?.BitsPerToken ?? double.NaN,
                rows, outcome.CompletionsPng, outcome.Seconds);
            await s.Store.SaveEvalAsync(result);
            s.Observer.Evaluation(result, Format(result));
        });
        Receive<Drain>(_ => Sender.Tell(new Drained(), Self));
    }

    protected override void PreStart() => _device = new DeviceThread("evaluator");

    protected override void PostStop() => _device?.Dispose();

    /// <summary>The compact table printed after each evaluation.</summary>
    public static string Format(EvalResult r)
    {
        var ci = CultureInfo.InvariantCulture;
        var text = new System.Text.StringBuilder();
        text.Append(ci, $"evaluation of step {r.Step} ({r.Seconds:F1} s)");
        if (!double.IsNaN(r.ValidationNats)) text.Append(ci, $": validation loss {r.ValidationNats:F4} nats/token = {r.ValidationBits:F4} bits/token");
        text.AppendLine();
        if (r.Probe.Count > 0)
        {
            text.AppendLine("  layer        best C   val %   test %");
            foreach (var p in r.Probe)
                text.AppendLine(string.Create(ci, $"  {p.Layer,-10} {p.BestC,8:G3} {100 * p.ValidationAccuracy,7:F2} {100 * p.TestAccuracy,8:F2}"));
        }
        if (r.CompletionsPng is not null) text.AppendLine($"  completions: {r.CompletionsPng}");
        return text.ToString().TrimEnd('\n');
    }
}
