using System.CommandLine;
using System.Globalization;
using ImageGpt.Nn;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.IO;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt finetune`: the paper's fine-tuning (classifier on mean-pooled ln_f, loss L_gen + L_clf,
/// Adam β2 0.95, constant lr), early-stopped on validation accuracy; prints test accuracy at the best
/// point and optionally saves those weights (with the classifier) as safetensors.
/// </summary>
public static class FinetuneCommand
{
    private static readonly Option<string?> Weights = ProbeCommand.WeightsOption();
    private static readonly Option<string?> PaletteFile = ProbeCommand.PaletteOption();
    private static readonly Option<string?> Out = Cli.Optional("--out", "write the best weights (with the classifier) as safetensors here (default: not written)", "W2");
    private static readonly Option<string?> DataDir = ProbeCommand.DataDirOption();
    private static readonly Option<string> Dataset = ProbeCommand.DatasetOption();
    private static readonly Option<int?> Train = ProbeCommand.SubsetOption("--train", "training");
    private static readonly Option<int?> Val = ProbeCommand.SubsetOption("--val", "validation");
    private static readonly Option<int?> Test = ProbeCommand.SubsetOption("--test", "test");
    private static readonly Option<int> Epochs = Cli.Int("--epochs", 3, "passes over the training images");
    private static readonly Option<double> Lr = Cli.Number("--lr", 1e-3, "Adam learning rate (constant)");
    private static readonly Option<int> Batch = Cli.Int("--batch", 32, "images per step");
    private static readonly Option<int> EvalEvery = Cli.Int("--eval-every", 0, "steps between validation checks (0: once per epoch)");
    private static readonly Option<int> Patience = Cli.Int("--patience", 3, "validation checks without improvement before stopping");
    private static readonly Option<double> Clip = Cli.Number("--clip", 1.0, "global gradient-norm clip");
    private static readonly Option<ulong> SeedOption = Cli.Seed("--seed", 1, "seed of the subsets and the shuffling");
    private static readonly Option<int> Threads = ProbeCommand.ThreadsOption();
    private static readonly Option<int?> MaxSteps = Cli.OptionalInt("--max-steps", "stop after this many steps (default: no limit)");

    public static Command Definition { get; } = Cli.Command("finetune",
        "fine-tune with a classifier head (L_gen + L_clf), early stop on validation accuracy, test accuracy",
        Weights, PaletteFile, Out, DataDir, Dataset, Train, Val, Test, Epochs, Lr, Batch, EvalEvery, Patience, Clip, SeedOption, Threads, MaxSteps);

    static FinetuneCommand() => Definition.SetAction(r => Run(r, Console.Out, Console.Error));

    public static int Run(string[] argv, TextWriter output, TextWriter log) => Run(Cli.Parse(Definition, argv), output, log);

    private static int Run(ParseResult a, TextWriter output, TextWriter log)
    {
        string weights = a.GetValue(Weights) ?? throw new UserError("--weights is required. HINT: imagegpt finetune --weights W.safetensors --palette P.json [--out W2.safetensors]");
        string palette = a.GetValue(PaletteFile) ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string? outPath = a.GetValue(Out);
        string? dataDir = a.GetValue(DataDir);
        string dataset = a.GetValue(Dataset)!;
        var sizes = new SubsetSizes(ProbeCommand.Subset(a, Train), ProbeCommand.Subset(a, Val), ProbeCommand.Subset(a, Test));
        var options = new FineTuneOptions(
            Epochs: a.GetValue(Epochs), Lr: a.GetValue(Lr), Batch: a.GetValue(Batch),
            EvalEvery: a.GetValue(EvalEvery), Patience: a.GetValue(Patience), Clip: (float)a.GetValue(Clip),
            Seed: a.GetValue(SeedOption), Threads: a.GetValue(Threads), MaxSteps: a.GetValue(MaxSteps));
        options.Validate();
        if (outPath is not null && Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir && !Directory.Exists(dir))
            throw new UserError($"output folder '{dir}' of --out {outPath} does not exist. HINT: create it first or write elsewhere");

        var bundle = EvalBundle.Load(weights, palette);
        var data = EvalData.Load(bundle, dataset, dataDir, sizes, options.Seed, log);
        if (bundle.Config.Classes != data.ClassCount)
            log.WriteLine($"[finetune] checkpoint has {bundle.Config.Classes} classes, {dataset} {data.ClassCount}: starting from a zero classifier head");
        var parameters = bundle.WithClassifier(data.ClassCount);
        var result = FineTuner.Run(parameters, data.Train, data.Validation, data.Test, options, log);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fine-tune: val acc {100 * result.InitialValidationAccuracy:F2}% -> best {100 * result.BestValidationAccuracy:F2}% at step {result.BestStep} of {result.Steps}{(result.StoppedEarly ? " (stopped early)" : "")}; test acc {100 * result.TestAccuracy:F2}% ({result.Seconds:F1} s)"));
        if (outPath is not null)
        {
            SafeTensors.Save(outPath, parameters, new Dictionary<string, string>
            {
                ["finetuned_from"] = Path.GetFileName(weights),
                ["finetune_val_acc"] = result.BestValidationAccuracy.ToString("R", CultureInfo.InvariantCulture),
                ["finetune_test_acc"] = result.TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
            });
            output.WriteLine($"wrote {outPath}");
        }
        return 0;
    }
}
