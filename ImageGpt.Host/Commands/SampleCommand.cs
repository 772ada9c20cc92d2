using System.CommandLine;
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
    private static readonly Option<string?> Weights = ProbeCommand.WeightsOption();
    private static readonly Option<string?> PaletteFile = ProbeCommand.PaletteOption();
    private static readonly Option<string?> Out = Cli.Optional("--out", "the PNG file to write (required)", "FILE.png");
    private static readonly Option<string?> DataDir = ProbeCommand.DataDirOption();
    private static readonly Option<string> Dataset = ProbeCommand.DatasetOption();
    private static readonly Option<int> Images = Cli.Int("--images", 8, "test images, one row each");
    private static readonly Option<int> CompletionsOption = Cli.Int("--completions", 4, "completions per image");
    private static readonly Option<int> Scale = Cli.Int("--scale", 4, "pixels per image pixel in the PNG");
    private static readonly Option<int> Threads = ProbeCommand.ThreadsOption();
    private static readonly Option<double> Temperature = Cli.Number("--temperature", 1.0, "sampling temperature (the paper's: 1)");
    private static readonly Option<ulong> SeedOption = Cli.Seed("--seed", 0, "seed of the images and the sampling");

    public static Command Definition { get; } = Cli.Command("sample", "half-image completions of test images as a PNG grid",
        Weights, PaletteFile, Out, DataDir, Dataset, Images, CompletionsOption, Scale, Threads, Temperature, SeedOption);

    static SampleCommand() => Definition.SetAction(r => Run(r, Console.Out, Console.Error));

    public static int Run(string[] argv, TextWriter output, TextWriter log) => Run(Cli.Parse(Definition, argv), output, log);

    private static int Run(ParseResult a, TextWriter output, TextWriter log)
    {
        string weights = a.GetValue(Weights) ?? throw new UserError("--weights is required. HINT: imagegpt sample --weights W.safetensors --palette P.json --out grid.png");
        string palette = a.GetValue(PaletteFile) ?? throw new UserError("--palette is required. HINT: pass the palette JSON saved with the run");
        string outPath = a.GetValue(Out) ?? throw new UserError("--out is required. HINT: the PNG file to write, e.g. --out completions.png");
        string? dataDir = a.GetValue(DataDir);
        string dataset = a.GetValue(Dataset)!;
        int images = a.GetValue(Images), completions = a.GetValue(CompletionsOption), scale = a.GetValue(Scale);
        int threads = a.GetValue(Threads);
        double temperature = a.GetValue(Temperature);
        ulong seed = a.GetValue(SeedOption);
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
