using System.Diagnostics;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Probe;

namespace ImageGpt.Nn.Eval;

/// <summary>Options of a per-layer probe run; null grid/options mean the LinearProbe defaults.</summary>
public sealed record LayerProbeOptions(int Batch = 64, int Threads = 1, IReadOnlyList<double>? Grid = null, Probe.LbfgsOptions? Lbfgs = null, bool RawPixelBaseline = true);

/// <summary>The per-layer table (rows "0".."L", the last being ln_f) and the raw-pixel baseline.</summary>
public sealed record LayerProbeReport(ProbeTable Table, ProbeResult? Baseline, double Seconds)
{
    public string Format()
    {
        var text = Table.Format();
        if (Baseline is { } b)
            text += string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"raw-pixel baseline: best C {b.BestC:G3}, val {100 * b.ValidationAccuracy:F2}%, test {100 * b.TestAccuracy:F2}%{(b.AtGridEdge ? " (best C at grid edge)" : "")}\n");
        return text;
    }
}

/// <summary>
/// The paper's linear probe of every layer: features of train/validation/test (one forward pass per
/// batch for all layers at once), then per layer LinearProbe.Fit, which standardizes with the
/// training statistics, chooses C on validation and scores test.
/// </summary>
public static class LayerProbeRunner
{
    public static LayerProbeReport Run(ParameterSlab parameters, EvalData data, LayerProbeOptions? options = null, TextWriter? log = null)
    {
        options ??= new LayerProbeOptions();
        var sw = Stopwatch.StartNew();
        var config = parameters.Config;
        var model = new Gpt(config, Math.Max(1, options.Batch), parameters) { Threads = Math.Max(1, options.Threads) };
        Features[] Extract(Data.TokenSet set, string name)
        {
            var t0 = sw.Elapsed.TotalSeconds;
            var f = FeatureExtractor.Extract(model, set, options.Batch);
            log?.WriteLine($"[probe] features of {name}: {set.Count} images x {config.Layers + 1} layers in {sw.Elapsed.TotalSeconds - t0:F1} s");
            return f;
        }
        var train = Extract(data.Train, "train");
        var val = Extract(data.Validation, "validation");
        var test = Extract(data.Test, "test");
        var table = new ProbeTable();
        for (int l = 0; l <= config.Layers; l++)
        {
            var name = l == config.Layers ? $"{l} (ln_f)" : l.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var row = LinearProbe.Fit(name, train[l], val[l], test[l], options.Grid, options.Lbfgs);
            table.Add(row);
            log?.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"[probe] layer {name}: C {row.BestC:G3}, val {100 * row.ValidationAccuracy:F2}%, test {100 * row.TestAccuracy:F2}% " +
                $"({row.Grid.Sum(p => p.Iterations)} L-BFGS iterations over {row.Grid.Count} C values, {row.Grid.Count(p => !p.Converged)} at the iteration limit; {sw.Elapsed.TotalSeconds:F1} s)"));
        }
        ProbeResult? baseline = null;
        if (options.RawPixelBaseline)
        {
            baseline = LinearProbe.RawPixelBaseline(data.Pixels, options.Grid, options.Lbfgs);
            log?.WriteLine($"[probe] raw-pixel baseline done ({sw.Elapsed.TotalSeconds:F1} s)");
        }
        return new LayerProbeReport(table, baseline, sw.Elapsed.TotalSeconds);
    }
}
