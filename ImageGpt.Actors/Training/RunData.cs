using System.Diagnostics;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Palette;

namespace ImageGpt.Actors.Training;

/// <summary>
/// Turns the configured data set into what a run consumes: decode the files, hold out validation,
/// train (or, on resume, reuse) the palette on resized images, hand the loaders a source that resizes
/// and quantizes each batch, and prepare the evaluation subsets. Everything is a pure function of the config (and the palette).
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
        if (palette is null)
        {
            // k-means sees the images as the model does (resized); enough of them to fill its pixel sample.
            int needed = (int)Math.Min(train.Count, (d.PaletteSamplePixels + (long)m.Seq - 1) / m.Seq);
            var sample = train.Subset(Enumerable.Range(0, needed).ToArray()).Resize(m.Side);
            palette = Palette.Train(sample.Images, sample.Channels, new PaletteOptions(d.PaletteClusters, d.PaletteSamplePixels, d.PaletteIterations, d.PaletteSeed));
            log.WriteLine($"[data] palette: {palette.Count} colours by k-means on {needed} resized training images ({sw.Elapsed.TotalSeconds:F1} s)");
        }
        if (palette.Channels != train.Channels || palette.Count != m.Vocab)
            throw new UserError($"the palette has {palette.Count} colours of {palette.Channels} channel(s), the run needs {m.Vocab} for {d.Set} ({train.Channels} channel(s)). HINT: set model.vocab and data.palette.clusters to the same value");
        // The loaders resize and quantize each batch's images as they build it.
        var source = new PixelSource(train, m.Side, palette);
        log.WriteLine($"[data] {d.Set}: {source.Count} training images ({train.Side}x{train.Side} -> {m.Side}x{m.Side} tokens per batch), {splits.Validation.Count} validation, {splits.Test.Count} test ({sw.Elapsed.TotalSeconds:F1} s)");
        RunEvalData? eval = null;
        if (config.Eval.Enabled)
        {
            var o = config.Eval.ToOptions();
            if (!m.Causal && o.Completions > 0)
            {
                log.WriteLine($"[eval] no completions: a BERT model has no left-to-right order to sample in (eval.completions.images = {o.Completions} ignored)");
                o = o with { Completions = 0 };
            }
            eval = RunEvalData.Prepare(splits, m, palette, o);
        }
        return new TrainingInputs(source, palette, eval);
    }
}
