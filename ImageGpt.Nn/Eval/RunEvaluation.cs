using System.Diagnostics;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Imaging;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Eval;

/// <summary>What is measured on every checkpoint of a training run; sizes of 0 switch a part off.</summary>
public sealed record RunEvalOptions(
    int ValidationImages, int ProbeTrain, int ProbeValidation, int ProbeTest,
    int Completions, int CompletionsPerImage, int Threads, ulong Seed, IReadOnlyList<double>? ProbeGrid = null);

/// <summary>
/// The images a run's evaluations use, prepared once (resized and encoded with the run's palette):
/// a validation subset for the loss, train/validation/test subsets for the linear probe, and the
/// test images whose lower halves are completed.
/// </summary>
public sealed record RunEvalData(TokenSet? Validation, EvalData? Probe, DataSet? CompletionImages, TokenSet? CompletionTokens)
{
    public static RunEvalData Prepare(DataSplits splits, GptConfig config, Palette.Palette palette, RunEvalOptions o)
    {
        TokenSet? validation = o.ValidationImages > 0
            ? EvalData.Tokens(EvalData.Take(splits.Validation, o.ValidationImages, o.Seed, 0, "validation"), config, palette)
            : null;
        EvalData? probe = o.ProbeTrain > 0
            ? EvalData.Prepare(splits, config, palette, new SubsetSizes(
                Math.Min(o.ProbeTrain, splits.Train.Count), Math.Min(o.ProbeValidation, splits.Validation.Count), Math.Min(o.ProbeTest, splits.Test.Count)), o.Seed)
            : null;
        DataSet? images = null;
        TokenSet? tokens = null;
        if (o.Completions > 0)
        {
            images = EvalData.Fit(EvalData.Take(splits.Test, o.Completions, o.Seed + 1, 0, "completions"), config);
            tokens = EvalData.Tokens(images, config, palette);
        }
        return new RunEvalData(validation, probe, images, tokens);
    }
}

/// <summary>One checkpoint's evaluation: validation loss, the per-layer probe table, and where the completions PNG went.</summary>
public sealed record RunEvalOutcome(GenerativeLoss? Validation, LayerProbeReport? Probe, string? CompletionsPng, double Seconds);

public static class RunEvaluation
{
    /// <param name="rawPixelBaseline">Also probe raw pixels (independent of the weights, so once per run is enough).</param>
    public static RunEvalOutcome Evaluate(ParameterSlab parameters, RunEvalData data, RunEvalOptions o, Palette.Palette palette,
        string? completionsPng, bool rawPixelBaseline, TextWriter? log = null)
    {
        var sw = Stopwatch.StartNew();
        int threads = Math.Max(1, o.Threads);
        // Batches of 16 keep the evaluator's activations (a full training-shaped slab per model) small
        // beside the trainers' while the GEMMs stay efficient (16 x 196 rows).
        const int batch = 16;
        GenerativeLoss? validation = null;
        if (data.Validation is { } v)
        {
            var model = new Gpt(parameters.Config, Math.Min(batch, v.Count), parameters) { Threads = threads };
            validation = ValidationLoss.Measure(model, v, Math.Min(batch, v.Count));
        }
        LayerProbeReport? probe = data.Probe is { } p
            ? LayerProbeRunner.Run(parameters, p, new LayerProbeOptions(Batch: batch, Threads: threads, Grid: o.ProbeGrid, RawPixelBaseline: rawPixelBaseline), log)
            : null;
        string? png = null;
        if (completionsPng is not null && data.CompletionImages is { } images && data.CompletionTokens is { } tokens)
        {
            var set = Completions.Sample(parameters, images, tokens, Math.Max(1, o.CompletionsPerImage), o.Seed, threads: threads);
            ImageGrid.Write(completionsPng, set.Rows(palette));
            png = completionsPng;
        }
        return new RunEvalOutcome(validation, probe, png, sw.Elapsed.TotalSeconds);
    }
}
