using System.Diagnostics;
using ImageGpt.Nn;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Palette;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Turns the configured data set into what a run consumes: decode the files, hold out validation,
/// resize to the model's side, train (or, on resume, reuse) the palette, encode the training images,
/// and prepare the evaluation subsets. Everything is a pure function of the config (and the palette).
/// </summary>
public static class RunData
{
    public static TrainingInputs Prepare(RunConfig config, Palette? palette, TextWriter log, DataSources? sources = null)
    {
        var d = config.Data;
        var m = config.Model;
        if (d.Dir is not null && !Directory.Exists(d.Dir))
            throw new UserError($"data.dir = '{d.Dir}' does not exist. HINT: point data.dir (or DATA_DIR) at the folder holding the {d.Set} files, or leave it unset to use the cache and /usr/share/datasets");
        var sw = Stopwatch.StartNew();
        var splits = DataSetLoader.LoadSplits(d.Set, sources ?? DataSources.Default(d.Dir) with { Log = log }, null, d.ValidationFraction, d.SplitSeed);
        if (splits.Train.Side < m.Side)
            throw new UserError($"model.side = {m.Side} exceeds the {splits.Train.Side}x{splits.Train.Side} images of {d.Set}. HINT: set model.side to at most {splits.Train.Side}");
        var train = splits.Train;
        if (d.Limit > 0 && d.Limit < train.Count) train = train.Subset(Enumerable.Range(0, d.Limit).ToArray(), $"{train.Name}[:{d.Limit}]");
        var resized = train.Resize(m.Side);
        if (palette is null)
        {
            palette = Palette.Train(resized.Images, resized.Channels, new PaletteOptions(d.PaletteClusters, d.PaletteSamplePixels, d.PaletteIterations, d.PaletteSeed));
            log.WriteLine($"[data] palette: {palette.Count} colours by k-means on {resized.Count} training images ({sw.Elapsed.TotalSeconds:F1} s)");
        }
        if (palette.Channels != resized.Channels || palette.Count != m.Vocab)
            throw new UserError($"the palette has {palette.Count} colours of {palette.Channels} channel(s), the run needs {m.Vocab} for {d.Set} ({resized.Channels} channel(s)). HINT: set model.vocab and data.palette.clusters to the same value");
        var tokens = TokenSet.Encode(resized, palette);
        log.WriteLine($"[data] {d.Set}: {tokens.Count} training images as {m.Side}x{m.Side} tokens, {splits.Validation.Count} validation, {splits.Test.Count} test ({sw.Elapsed.TotalSeconds:F1} s)");
        RunEvalData? eval = null;
        if (config.Eval.Enabled)
        {
            var e = config.Eval;
            eval = RunEvalData.Prepare(splits, m, palette, new RunEvalOptions(e.ValidationImages, e.ProbeTrain, e.ProbeValidation, e.ProbeTest, e.Completions, e.CompletionsPerImage, e.Threads, e.Seed));
        }
        return new TrainingInputs(tokens, palette, eval);
    }
}
