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
    public static int Run(string[] argv) => Run(argv, Console.Out, Console.Error);

    public static int Run(string[] argv, TextWriter output, TextWriter log)
    {
        var a = Args.Parse("probe", argv, new HashSet<string> { "no-baseline" });
        string weights = a.String("weights") ?? throw new UserError("--weights is required. HINT: imagegpt probe --weights W.safetensors --palette P.json");
        string palette = a.String("palette") ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string? dataDir = a.String("data-dir");
        string dataset = a.String("dataset") ?? "fashion-mnist";
        var sizes = new SubsetSizes(Optional(a, "train"), Optional(a, "val"), Optional(a, "test"));
        ulong seed = (ulong)a.Int("seed", 0);
        int batch = a.Int("batch", 64), threads = a.Int("threads", Environment.ProcessorCount);
        bool baseline = !a.Flag("no-baseline");
        a.RejectUnknown();
        if (batch < 1) throw new UserError($"--batch {batch} must be at least 1. HINT: e.g. --batch 64");
        if (threads < 1) throw new UserError($"--threads {threads} must be at least 1");

        var bundle = EvalBundle.Load(weights, palette);
        var data = EvalData.Load(bundle, dataset, dataDir, sizes, seed, log);
        log.WriteLine($"[probe] {bundle.Config.Describe()}; {data.Train.Count} train, {data.Validation.Count} val, {data.Test.Count} test images of {dataset} at {bundle.Config.Side}x{bundle.Config.Side}");
        if (bundle.Config.Causal)
        {
            var model = new Nn.Model.Gpt(bundle.Config, batch, bundle.Parameters) { Threads = threads };
            output.WriteLine($"validation loss: {ValidationLoss.Measure(model, data.Validation, batch)}");
        }
        var report = LayerProbeRunner.Run(bundle.Parameters, data, new LayerProbeOptions(batch, threads, RawPixelBaseline: baseline), log);
        output.Write(report.Format());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probe time: {report.Seconds:F1} s"));
        return 0;
    }

    internal static int? Optional(Args a, string name)
    {
        int v = a.Int(name, -1);
        if (a.String(name) is null) return null;
        if (v < 1) throw new UserError($"--{name} {v} must be at least 1. HINT: a number of images, or leave it out for the whole split");
        return v;
    }
}
