using System.CommandLine;
using System.Globalization;
using ImageGpt.Nn;
using ImageGpt.Nn.Eval;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt probe`: the paper's linear probe of every layer of a checkpoint (features = mean-pooled
/// Norm1 input of block l, ln_f for the last), regularization chosen on validation, test accuracy,
/// and logistic regression on the raw pixels as the baseline. The table goes to stdout, progress to stderr.
/// </summary>
public static class ProbeCommand
{
    internal static Option<string?> WeightsOption() => Cli.Optional("--weights", "the checkpoint's safetensors file (required)", "W");
    internal static Option<string?> PaletteOption() => Cli.Optional("--palette", "the palette JSON saved with the run (required)", "P");
    internal static Option<string?> DataDirOption() => Cli.Optional("--data-dir", "where the data set's files are (default: searched in ~/.cache/imagegpt and /usr/share/datasets, else installed)", "D");
    internal static Option<string> DatasetOption() => Cli.Text("--dataset", "fashion-mnist", "fashion-mnist, mnist, cifar-10 or cifar-100", "NAME");
    internal static Option<int?> SubsetOption(string name, string split) => Cli.OptionalInt(name, $"images of the {split} split to use (default: the whole split)");
    internal static Option<int> ThreadsOption() => Cli.Int("--threads", Environment.ProcessorCount, "compute threads (the default is one per core of this machine)");

    private static readonly Option<string?> Weights = WeightsOption();
    private static readonly Option<string?> PaletteFile = PaletteOption();
    private static readonly Option<string?> DataDir = DataDirOption();
    private static readonly Option<string> Dataset = DatasetOption();
    private static readonly Option<int?> Train = SubsetOption("--train", "training");
    private static readonly Option<int?> Val = SubsetOption("--val", "validation");
    private static readonly Option<int?> Test = SubsetOption("--test", "test");
    private static readonly Option<ulong> SeedOption = Cli.Seed("--seed", 0, "seed of the subsets");
    private static readonly Option<int> Batch = Cli.Int("--batch", 64, "images per forward pass");
    private static readonly Option<int> Threads = ThreadsOption();
    private static readonly Option<bool> NoBaseline = Cli.Flag("--no-baseline", "skip logistic regression on the raw pixels");
    private static readonly Option<string?> Results = Cli.Optional("--results", "append the table to this CSV (made if absent) for imagegpt chart (default: not written)", "FILE");
    private static readonly Option<string?> Label = Cli.Optional("--label", "the run's name in --results (default: the name of the weights' folder)", "NAME");

    public static Command Definition { get; } = Cli.Command("probe",
        "linear probe of every layer of a checkpoint + the raw-pixel baseline: best C, validation and test accuracy",
        Weights, PaletteFile, DataDir, Dataset, Train, Val, Test, SeedOption, Batch, Threads, NoBaseline, Results, Label);

    static ProbeCommand() => Definition.SetAction(r => Run(r, Console.Out, Console.Error));

    public static int Run(string[] argv, TextWriter output, TextWriter log) => Run(Cli.Parse(Definition, argv), output, log);

    private static int Run(ParseResult a, TextWriter output, TextWriter log)
    {
        string weights = a.GetValue(Weights) ?? throw new UserError("--weights is required. HINT: imagegpt probe --weights W.safetensors --palette P.json");
        string palette = a.GetValue(PaletteFile) ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string? dataDir = a.GetValue(DataDir);
        string dataset = a.GetValue(Dataset)!;
        var sizes = new SubsetSizes(Subset(a, Train), Subset(a, Val), Subset(a, Test));
        ulong seed = a.GetValue(SeedOption);
        int batch = a.GetValue(Batch), threads = a.GetValue(Threads);
        bool baseline = !a.GetValue(NoBaseline);
        if (batch < 1) throw new UserError($"--batch {batch} must be at least 1. HINT: e.g. --batch 64");
        if (threads < 1) throw new UserError($"--threads {threads} must be at least 1");

        string? results = a.GetValue(Results);
        string label = a.GetValue(Label) ?? new DirectoryInfo(Path.GetDirectoryName(Path.GetFullPath(weights))!).Name;
        if (results is not null) ProbeResultsFile.CheckWritable(results, label, Path.GetFileName(weights));

        var bundle = EvalBundle.Load(weights, palette);
        var data = EvalData.Load(bundle, dataset, dataDir, sizes, seed, log);
        log.WriteLine($"[probe] {bundle.Config.Describe()}; {data.Train.Count} train, {data.Validation.Count} val, {data.Test.Count} test images of {dataset} at {bundle.Config.Side}x{bundle.Config.Side}");
        double validationBits = double.NaN;
        if (bundle.Config.Causal)
        {
            var model = new Nn.Model.Gpt(bundle.Config, batch, bundle.Parameters) { Threads = threads };
            var loss = ValidationLoss.Measure(model, data.Validation, batch);
            validationBits = loss.BitsPerToken;
            output.WriteLine($"validation loss: {loss}");
        }
        var report = LayerProbeRunner.Run(bundle.Parameters, data, new LayerProbeOptions(batch, threads, RawPixelBaseline: baseline), log);
        bool full = sizes is { Train: null, Validation: null, Test: null };
        output.WriteLine($"linear probe on {(full ? "the full splits" : "subsets")}: {data.Train.Count} train, {data.Validation.Count} validation, {data.Test.Count} test images" +
            (full ? "" : " (not comparable with a full-data probe)"));
        output.Write(report.Format());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probe time: {report.Seconds:F1} s"));
        if (results is not null)
        {
            ProbeResultsFile.Append(results, ResultRows(report, label, Path.GetFileName(weights), ProbeResultsFile.StepOf(weights),
                data.Train.Count, data.Validation.Count, data.Test.Count, validationBits));
            output.WriteLine($"results appended to {results} (pictures: imagegpt chart --results {results})");
        }
        return 0;
    }

    private static List<ProbeResultRow> ResultRows(LayerProbeReport report, string label, string checkpoint, long? step, int train, int val, int test, double bits)
    {
        var rows = report.Table.Rows.Select(r => new ProbeResultRow(label, checkpoint, step, train, val, test, bits, r.Layer, r.BestC, r.ValidationAccuracy, r.TestAccuracy)).ToList();
        if (report.Baseline is { } b)
            rows.Add(new ProbeResultRow(label, checkpoint, step, train, val, test, bits, ProbeResultsFile.RawPixels, b.BestC, b.ValidationAccuracy, b.TestAccuracy));
        return rows;
    }

    internal static int? Subset(ParseResult a, Option<int?> option)
    {
        int? v = a.GetValue(option);
        if (v is < 1) throw new UserError($"{option.Name} {v} must be at least 1. HINT: a number of images, or leave it out for the whole split");
        return v;
    }
}
