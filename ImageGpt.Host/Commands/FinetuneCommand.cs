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
    public static int Run(string[] argv) => Run(argv, Console.Out, Console.Error);

    public static int Run(string[] argv, TextWriter output, TextWriter log)
    {
        var a = Args.Parse("finetune", argv, new HashSet<string>());
        string weights = a.String("weights") ?? throw new UserError("--weights is required. HINT: imagegpt finetune --weights W.safetensors --palette P.json [--out W2.safetensors]");
        string palette = a.String("palette") ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string? outPath = a.String("out");
        string? dataDir = a.String("data-dir");
        string dataset = a.String("dataset") ?? "fashion-mnist";
        var sizes = new SubsetSizes(ProbeCommand.Optional(a, "train"), ProbeCommand.Optional(a, "val"), ProbeCommand.Optional(a, "test"));
        var options = new FineTuneOptions(
            Epochs: a.Int("epochs", 3), Lr: a.Double("lr", 1e-3), Batch: a.Int("batch", 32),
            EvalEvery: a.Int("eval-every", 0), Patience: a.Int("patience", 3), Clip: (float)a.Double("clip", 1.0),
            Seed: (ulong)a.Int("seed", 1), Threads: a.Int("threads", Environment.ProcessorCount),
            MaxSteps: a.String("max-steps") is null ? null : a.Int("max-steps", 0));
        a.RejectUnknown();
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
