using System.CommandLine;
using System.Globalization;
using ImageGpt.Actors.History;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt chart`: the pictures and the table of a probe results file (written by `imagegpt probe --results`): per run,
/// test accuracy against layer with one line per checkpoint and the raw pixels dashed (the paper's Fig. 3); across runs,
/// the best layer's test accuracy against validation loss (Fig. 2's trend).
/// </summary>
public static class ChartCommand
{
    private static readonly Option<string?> Results = Cli.Optional("--results", "the probe results file (CSV) of imagegpt probe --results (required)", "FILE");
    private static readonly Option<string?> Out = Cli.Optional("--out", "folder for the SVG files (default: the results file's folder)", "DIR");
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static Command Definition { get; } = Cli.Command("chart",
        "SVG pictures and a table from a probe results file: probe accuracy by layer per checkpoint (Fig. 3), best probe against validation loss across runs (Fig. 2)",
        Results, Out);

    static ChartCommand() => Definition.SetAction(r => Run(r, Console.Out));

    public static int Run(string[] argv, TextWriter output) => Run(Cli.Parse(Definition, argv), output);

    private static int Run(ParseResult a, TextWriter output)
    {
        string path = a.GetValue(Results) ?? throw new UserError("--results is required. HINT: imagegpt chart --results study.csv");
        var rows = ProbeResultsFile.Read(path);
        if (rows.Count == 0) throw new UserError($"{path} holds no results yet. HINT: imagegpt probe --weights W --palette P --results {path}");
        string dir = a.GetValue(Out) ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);

        var runs = rows.Select(r => r.Label).Distinct().Select(label => (Run: label, Evaluations: Evaluations(rows, label))).ToList();
        double? raw = rows.LastOrDefault(r => r.IsRawPixels)?.TestAccuracy;
        foreach (var (run, evaluations) in runs)
        {
            string sizes = rows.First(r => r.Label == run).Sizes;
            Write(output, Path.Combine(dir, $"probe-{FileName(run)}.svg"), RunCharts.Probe(evaluations, $"{run}: probe test accuracy by layer ({sizes} images)"));
        }
        Write(output, Path.Combine(dir, "validation-vs-probe.svg"), RunCharts.ValidationVsProbe(runs, raw));
        output.Write(Table(rows));
        return 0;
    }

    /// <summary>One evaluation per checkpoint of a run, in step order; the raw-pixel row of the run, else of any run with the same probe sizes.</summary>
    private static IReadOnlyList<EvaluationRecorded> Evaluations(IReadOnlyList<ProbeResultRow> rows, string label)
    {
        var mine = rows.Where(r => r.Label == label).ToList();
        // Checkpoints named step-N.safetensors are placed by N, others by the order they were probed in.
        return mine.GroupBy(r => r.Checkpoint).Select((g, index) =>
        {
            var first = g.First();
            var raw = RawPixels(rows, g, first);
            var layers = g.Where(r => !r.IsRawPixels).GroupBy(r => r.Layer).Select(l => Row(l.Last())).ToList();
            return new EvaluationRecorded(first.Step ?? index, double.NaN, first.ValidationBits, layers, raw is null ? null : Row(raw),
                null, 0, [], DateTimeOffset.UnixEpoch);
        }).OrderBy(e => e.Step).ToList();
    }

    /// <summary>The checkpoint's own raw-pixel row, else the last of any run probed with the same image counts.</summary>
    private static ProbeResultRow? RawPixels(IReadOnlyList<ProbeResultRow> rows, IEnumerable<ProbeResultRow> checkpoint, ProbeResultRow first) =>
        checkpoint.LastOrDefault(r => r.IsRawPixels) ?? rows.LastOrDefault(r => r.IsRawPixels && r.Sizes == first.Sizes);

    private static ProbeRow Row(ProbeResultRow r) => new(r.Layer, r.BestC, r.ValidationAccuracy, r.TestAccuracy);

    /// <summary>Per run (in the order of the file) and checkpoint (by step): validation loss, the layer the validation split chooses and its test accuracy, the peak by test, raw pixels.</summary>
    public static string Table(IReadOnlyList<ProbeResultRow> rows)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| run | step | probe images (train/val/test) | validation bits/token | best layer by validation: test % | peak layer: test % | raw pixels: test % |");
        sb.AppendLine("|---|---:|---|---:|---|---|---:|");
        var labels = rows.Select(r => r.Label).Distinct().ToList();
        foreach (var g in rows.GroupBy(r => (r.Label, r.Checkpoint)).OrderBy(g => labels.IndexOf(g.Key.Label)).ThenBy(g => g.First().Step ?? long.MaxValue))
        {
            var layers = g.Where(r => !r.IsRawPixels).ToList();
            if (layers.Count == 0) continue;
            var first = layers[0];
            var chosen = layers.MaxBy(r => r.ValidationAccuracy)!;
            var peak = layers.MaxBy(r => r.TestAccuracy)!;
            var raw = RawPixels(rows, g, first);
            sb.AppendLine(string.Create(Inv,
                $"| {g.Key.Label} | {first.Step?.ToString(Inv) ?? g.Key.Checkpoint} | {first.Sizes} | {first.ValidationBits:F4} | {chosen.Layer}: {100 * chosen.TestAccuracy:F2} | {peak.Layer}: {100 * peak.TestAccuracy:F2} | {(raw is null ? "" : (100 * raw.TestAccuracy).ToString("F2", Inv))} |"));
        }
        return sb.ToString();
    }

    private static string FileName(string label) => string.Concat(label.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    private static void Write(TextWriter output, string path, string svg)
    {
        File.WriteAllText(path, svg);
        output.WriteLine($"wrote {path}");
    }
}
