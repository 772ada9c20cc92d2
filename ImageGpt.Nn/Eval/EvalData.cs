using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Eval;

/// <summary>How many images of each split an evaluation uses (all when a size is null).</summary>
public sealed record SubsetSizes(int? Train = null, int? Validation = null, int? Test = null);

/// <summary>
/// The images an evaluation runs on: each split resized to the model's side (area averaging) and
/// encoded with the run's palette, tokens (N,T) in raster order. Pixels are kept for the raw-pixel
/// baseline and for drawing completions.
/// </summary>
public sealed record EvalData(DataSplits Pixels, TokenSet Train, TokenSet Validation, TokenSet Test)
{
    public int ClassCount => Pixels.Train.ClassCount;

    /// <summary>
    /// Takes a seeded random subset of each split (sorted back into file order), resizes it to the
    /// config's side and encodes it. Subsetting first keeps a small evaluation from resizing 60000 images.
    /// </summary>
    public static EvalData Prepare(DataSplits splits, GptConfig config, Palette.Palette palette, SubsetSizes? sizes = null, ulong seed = 0)
    {
        sizes ??= new SubsetSizes();
        var train = Take(splits.Train, sizes.Train, seed, 0, "train");
        var val = Take(splits.Validation, sizes.Validation, seed, 1, "validation");
        var test = Take(splits.Test, sizes.Test, seed, 2, "test");
        var resized = new DataSplits(Fit(train, config), Fit(val, config), Fit(test, config));
        return new EvalData(resized, Encode(resized.Train, palette), Encode(resized.Validation, palette), Encode(resized.Test, palette));
    }

    /// <summary>
    /// Loads a data set (<see cref="DataSetLoader"/>: --data-dir, cache, system directory), holds out
    /// the standard validation split, checks it against the bundle and prepares the subsets.
    /// </summary>
    public static EvalData Load(EvalBundle bundle, string dataset, string? dataDir, SubsetSizes sizes, ulong seed, TextWriter log)
    {
        if (dataDir is not null && !Directory.Exists(dataDir))
            throw new UserError($"data directory '{dataDir}' not found. HINT: pass the folder holding the {dataset} files with --data-dir, or leave it out to use the cache and /usr/share/datasets");
        var (trainFiles, testFiles) = DataSetLoader.Load(dataset, DataSources.Default(dataDir) with { Log = log });
        bundle.CheckData(trainFiles);
        var splits = DataSplits.HoldOut(trainFiles, testFiles);
        return Prepare(splits, bundle.Config, bundle.Palette, sizes, seed);
    }

    /// <summary>One set resized to the config's side and palette-encoded.</summary>
    public static TokenSet Tokens(DataSet set, GptConfig config, Palette.Palette palette) => Encode(Fit(set, config), palette);

    private static TokenSet Encode(DataSet set, Palette.Palette palette)
    {
        if (set.Channels != palette.Channels)
            throw new UserError($"data set {set.Name} has {set.Channels} channel(s), the palette {palette.Channels}. HINT: use the palette of a run trained on this data set");
        return TokenSet.Encode(set, palette);
    }

    internal static DataSet Fit(DataSet set, GptConfig config)
    {
        if (set.Side < config.Side)
            throw new UserError($"data set {set.Name} has {set.Side}x{set.Side} images, the model needs {config.Side}x{config.Side}. HINT: use the data set the model was trained on");
        return set.Resize(config.Side);
    }

    /// <summary>A seeded random subset of n images in file order (the whole set when n is null or covers it).</summary>
    internal static DataSet Take(DataSet set, int? n, ulong seed, ulong part, string what)
    {
        if (n is null || n.Value >= set.Count) return set;
        if (n.Value < 1) throw new UserError($"--{what} {n} must be at least 1. HINT: give a positive number of images, or leave it out to use the whole split");
        var rows = SeededRandom.Derive(seed, part).Permutation(set.Count).AsSpan(0, n.Value).ToArray();
        Array.Sort(rows);
        return set.Subset(rows);
    }
}
