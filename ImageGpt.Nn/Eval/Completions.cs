using ImageGpt.Nn.Data;
using ImageGpt.Nn.Imaging;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Sampling;

namespace ImageGpt.Nn.Eval;

/// <summary>
/// Half-image completions (the paper's figure): per image, the original, the prompt (its quantized
/// top half, bottom half gray) and K sampled completions of the bottom half.
/// Tokens are (N,T) and (N,K,T) row-major; completion k of image i is row i·K + k.
/// </summary>
public sealed record CompletionSet(DataSet Originals, int[] Prompts, int[] Completions, int CompletionsPerImage, int PromptLength)
{
    /// <summary>One row per image: original | masked | completions, as images for <see cref="ImageGrid"/>.</summary>
    public IReadOnlyList<IReadOnlyList<Image>> Rows(Palette.Palette palette)
    {
        int side = Originals.Side, ch = Originals.Channels, T = side * side, K = CompletionsPerImage;
        var rows = new List<IReadOnlyList<Image>>();
        for (int i = 0; i < Originals.Count; i++)
        {
            var row = new List<Image> { Image.Square(Originals.Image(i).ToArray(), side, ch) };
            var masked = Decode(palette, Prompts.AsSpan(i * T, T), ch);
            // Gray (128) marks what the model must fill in.
            masked.AsSpan(PromptLength * ch).Fill(128);
            row.Add(Image.Square(masked, side, ch));
            for (int k = 0; k < K; k++)
                row.Add(Image.Square(Decode(palette, Completions.AsSpan((i * K + k) * T, T), ch), side, ch));
            rows.Add(row);
        }
        return rows;
    }

    private static byte[] Decode(Palette.Palette palette, ReadOnlySpan<int> tokens, int channels)
    {
        var t = new ushort[tokens.Length];
        for (int j = 0; j < t.Length; j++) t[j] = checked((ushort)tokens[j]);
        var pixels = new byte[t.Length * channels];
        palette.Decode(t, pixels);
        return pixels;
    }
}

public static class Completions
{
    /// <summary>
    /// Completes the bottom half of every image <paramref name="completions"/> times with the KV-cached
    /// sampler (one batch of N·K sequences; each draws from its own stream derived from the seed and
    /// its row, so the result depends only on the seed and the inputs).
    /// </summary>
    /// <param name="images">Images already at the model's side (see <see cref="EvalData"/>); tokens are their palette encoding.</param>
    public static CompletionSet Sample(ParameterSlab parameters, DataSet images, TokenSet tokens, int completions, ulong seed, double temperature = 1.0, int threads = 1)
    {
        var config = parameters.Config;
        if (completions < 1) throw new UserError($"--completions {completions} must be at least 1. HINT: e.g. --completions 4");
        if (images.Count < 1) throw new UserError("no images to complete. HINT: give --images at least 1");
        if (images.Side != config.Side || tokens.T != config.Seq || tokens.Count != images.Count)
            throw new ArgumentException("images and tokens must be at the model's side, one token row per image");
        int N = images.Count, K = completions, T = config.Seq;
        var prompts = new int[N * T];
        for (int j = 0; j < prompts.Length; j++) prompts[j] = tokens.Tokens[j];
        var repeated = new int[N * K * T];
        for (int i = 0; i < N; i++)
            for (int k = 0; k < K; k++) prompts.AsSpan(i * T, T).CopyTo(repeated.AsSpan((i * K + k) * T, T));
        var sampler = new Sampler(config, parameters, N * K) { Threads = Math.Max(1, threads) };
        var output = sampler.CompleteHalfImages(repeated, N * K, seed, temperature);
        return new CompletionSet(images, prompts, output, K, Sampler.HalfImagePromptLength(config));
    }
}
