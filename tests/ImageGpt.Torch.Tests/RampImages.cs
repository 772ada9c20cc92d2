using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Torch.Tests;

/// <summary>Synthetic training images with structure (a ramp per class plus noise), so a short run's loss falls and Adam moves every weight.</summary>
internal static class RampImages
{
    public static TokenSet Make(GptConfig c, int images)
    {
        var rng = new SeededRandom(99);
        int T = c.Seq;
        var tokens = new ushort[images * T];
        var labels = new int[images];
        for (int i = 0; i < images; i++)
        {
            labels[i] = i % 3;
            for (int t = 0; t < T; t++) tokens[i * T + t] = (ushort)((t * (labels[i] + 1) / 6 + rng.NextInt(2)) % c.Vocab);
        }
        return new TokenSet(tokens, labels, T);
    }
}
