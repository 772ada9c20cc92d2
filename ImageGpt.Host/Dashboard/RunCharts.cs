using ImageGpt.Actors.History;

namespace ImageGpt.Host.Dashboard;

/// <summary>The dashboard's three charts: loss against step, probe accuracy against layer (the paper's Fig. 3), validation loss against best probe.</summary>
public static class RunCharts
{
    private static readonly double Ln2 = Math.Log(2);

    public static string Loss(IReadOnlyList<LossPoint> training, IReadOnlyList<EvaluationRecorded> evaluations) =>
        SvgChart.Render("loss (bits per token)", "step", "bits / token",
        [
            new ChartSeries("training", Thin(training, 600).Select(p => ((double)p.Step, p.Nats / Ln2)).ToList(), "#1f77b4"),
            new ChartSeries("validation", evaluations.Select(e => ((double)e.Step, e.ValidationBits)).ToList(), "#d62728", Markers: true),
        ]);

    /// <summary>Test accuracy of every layer, one line per evaluated checkpoint (light: early, dark: late), the raw-pixel baseline dashed.</summary>
    public static string Probe(IReadOnlyList<EvaluationRecorded> evaluations, string title = "linear probe: test accuracy by layer")
    {
        var probed = evaluations.Where(e => e.Probe.Count > 0).ToList();
        var layers = probed.Count == 0 ? [] : probed[^1].Probe.Select(p => p.Layer).ToList();
        var series = probed.Select((e, i) => new ChartSeries($"step {e.Step}",
            e.Probe.Select((p, layer) => ((double)layer, 100 * p.TestAccuracy)).ToList(), SvgChart.Shade(i, probed.Count), Markers: true)).ToList();
        if (evaluations.LastOrDefault(e => e.RawPixels is not null)?.RawPixels is { } raw && layers.Count > 0)
            series.Add(new ChartSeries("raw pixels", [(0, 100 * raw.TestAccuracy), (layers.Count - 1, 100 * raw.TestAccuracy)], "#ff7f0e", Dashed: true));
        return SvgChart.Render(title, "layer (input of block; last: ln_f)", "test accuracy %", series, layers);
    }

    /// <summary>As validation loss falls, the best layer's probe accuracy rises (the best layer chosen by validation accuracy).</summary>
    public static string ValidationVsProbe(IReadOnlyList<EvaluationRecorded> evaluations) => ValidationVsProbe([("checkpoints", evaluations)]);

    private static readonly string[] RunColors = ["#2ca02c", "#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

    /// <summary>The same across runs, one series per run, and the raw pixels' test accuracy as a dashed line when given.</summary>
    public static string ValidationVsProbe(IReadOnlyList<(string Run, IReadOnlyList<EvaluationRecorded> Evaluations)> runs, double? rawPixels = null)
    {
        var series = runs.Select((r, i) => new ChartSeries(r.Run, r.Evaluations.Where(e => e.Probe.Count > 0 && double.IsFinite(e.ValidationBits))
            .Select(e => (e.ValidationBits, 100 * e.Probe.MaxBy(p => p.ValidationAccuracy)!.TestAccuracy)).ToList(), RunColors[i % RunColors.Length], Markers: true)).ToList();
        var xs = series.SelectMany(s => s.Points).Select(p => p.X).ToList();
        if (rawPixels is { } raw && xs.Count > 0)
            series.Add(new ChartSeries("raw pixels", [(xs.Min(), 100 * raw), (xs.Max(), 100 * raw)], "#ff7f0e", Dashed: true));
        return SvgChart.Render("validation loss vs best probe", "validation bits / token", "best layer's test accuracy %", series);
    }

    /// <summary>At most <paramref name="max"/> points, evenly spaced, the last always kept.</summary>
    public static IReadOnlyList<LossPoint> Thin(IReadOnlyList<LossPoint> points, int max)
    {
        if (points.Count <= max) return points;
        double stride = (double)points.Count / max;
        var thinned = Enumerable.Range(0, max).Select(i => points[(int)(i * stride)]).ToList();
        if (thinned[^1] != points[^1]) thinned[^1] = points[^1];
        return thinned;
    }
}
