using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests.Eval;

/// <summary>Tiny in-memory data and models for the evaluation tests.</summary>
internal static class EvalFixtures
{
    public static GptConfig Config(int classes = 0, int side = 4, int vocab = 8) =>
        new(Layers: 2, Width: 16, Heads: 2, Vocab: vocab, Side: side, Classes: classes, Objective: Objective.Autoregressive, Seed: 7);

    /// <summary>Paper init plus a small random output head, so sampled pixels depend on the context.</summary>
    public static Gpt Model(GptConfig config, int batch)
    {
        var m = new Gpt(config, batch);
        m.Init();
        new SeededRandom(config.Seed + 11).FillNormal(m.Parameters["head"], 0.5);
        return m;
    }

    /// <summary>
    /// Gray side x side images in two classes that a linear model separates: class 0 is dark
    /// (values 0..80), class 1 bright (170..250), with seeded noise per pixel.
    /// </summary>
    public static DataSet TwoClass(int n, int side, ulong seed, string name = "two-class")
    {
        var rng = new SeededRandom(seed);
        var labels = new int[n];
        var images = new byte[n * side * side];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 2;
            int lo = labels[i] == 0 ? 0 : 170;
            for (int p = 0; p < side * side; p++) images[i * side * side + p] = (byte)(lo + rng.NextInt(81));
        }
        return new DataSet(name, images, labels, side, 1, ["dark", "bright"]);
    }

    public static ImageGpt.Nn.Palette.Palette Gray(DataSet set, int levels = 8) =>
        ImageGpt.Nn.Palette.Palette.Train(set.Images, 1, new ImageGpt.Nn.Palette.PaletteOptions(levels));
}
