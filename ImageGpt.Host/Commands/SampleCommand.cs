using ImageGpt.Nn;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Imaging;
using ImageGpt.Nn.Sampling;

namespace ImageGpt.Host.Commands;

/// <summary>
/// `imagegpt sample`: half-image completions of test images as a PNG grid; each row is
/// original | prompt (bottom half gray) | K completions, scaled up.
/// </summary>
public static class SampleCommand
{
    public static int Run(string[] argv) => Run(argv, Console.Out, Console.Error);

    public static int Run(string[] argv, TextWriter output, TextWriter log)
    {
        var a = Args.Parse("sample", argv, new HashSet<string>());
        string weights = a.String("weights") ?? throw new UserError("--weights is required. HINT: imagegpt sample --weights W.safetensors --palette P.json --out grid.png");
        string palette = a.String("palette") ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string outPath = a.String("out") ?? throw new UserError("--out is required. HINT: the PNG file to write, e.g. --out completions.png");
        string? dataDir = a.String("data-dir");
        string dataset = a.String("dataset") ?? "fashion-mnist";
        int images = a.Int("images", 8), completions = a.Int("completions", 4), scale = a.Int("scale", 4);
        int threads = a.Int("threads", Environment.ProcessorCount);
        double temperature = a.Double("temperature", 1.0);
        ulong seed = (ulong)a.Int("seed", 0);
        a.RejectUnknown();
        if (images < 1) throw new UserError($"--images {images} must be at least 1. HINT: e.g. --images 8");
        if (completions < 1) throw new UserError($"--completions {completions} must be at least 1. HINT: e.g. --completions 4");
        if (scale < 1) throw new UserError($"--scale {scale} must be at least 1. HINT: e.g. --scale 4");
        Categorical.ValidateTemperature(temperature);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
        if (dir is not null && !Directory.Exists(dir))
            throw new UserError($"output folder '{dir}' of --out {outPath} does not exist. HINT: create it first or write elsewhere");

        var bundle = EvalBundle.Load(weights, palette);
        var data = EvalData.Load(bundle, dataset, dataDir, new SubsetSizes(1, 1, images), seed, log);
        log.WriteLine($"[sample] {bundle.Config.Describe()}; {data.Test.Count} test images x {completions} completions, temperature {temperature}, seed {seed}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var set = Completions.Sample(bundle.Parameters, data.Pixels.Test, data.Test, completions, seed, temperature, threads);
        ImageGrid.Write(outPath, set.Rows(bundle.Palette), scale);
        output.WriteLine($"wrote {outPath}: {data.Test.Count} rows of original | prompt | {completions} completions ({sw.Elapsed.TotalSeconds:F1} s)");
        return 0;
    }
}
