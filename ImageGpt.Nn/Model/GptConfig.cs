using System.Globalization;

namespace ImageGpt.Nn.Model;

/// <summary>Training objective (IGPT.md): next-pixel prediction or masked-pixel prediction.</summary>
public enum Objective { Autoregressive, Bert }

/// <summary>
/// The one immutable description of an Image GPT model. Dimension letters used everywhere:
/// L = Layers, C = Width, NH = Heads, HS = C/NH, V = Vocab (palette size), T = Seq = Side², K = Classes.
/// </summary>
/// <param name="Layers">L, number of transformer blocks.</param>
/// <param name="Width">C (the paper's d): residual stream width.</param>
/// <param name="Heads">NH: attention heads; Width must divide evenly so every head has HS = C/NH columns.</param>
/// <param name="Vocab">V: palette size (16 gray levels for Fashion-MNIST, 512 colours in the paper).</param>
/// <param name="Side">Image side in tokens; the sequence is the row-major flatten, T = Side².</param>
/// <param name="Classes">K: classifier classes for fine-tuning; 0 means the model has no `clf` tensor.</param>
/// <param name="Objective">Autoregressive (causal, SOS-shifted) or Bert (masked, bidirectional).</param>
/// <param name="Seed">Seed of the initialisation RNG; the same seed gives the same bits on every machine.</param>
public sealed record GptConfig(int Layers, int Width, int Heads, int Vocab, int Side, int Classes, Objective Objective, ulong Seed)
{
    public int Seq => Side * Side;
    public int HeadSize => Width / Heads;
    public bool Causal => Objective == Objective.Autoregressive;

    /// <summary>L(12C² + 2C) + 2VC + TC + 2C (+ KC): reproduces iGPT-S/M/L's published counts.</summary>
    public long ParameterCount
    {
        get
        {
            long c = Width;
            return Layers * (12 * c * c + 2 * c) + 2L * Vocab * c + (long)Seq * c + 2 * c + (long)Classes * c;
        }
    }

    /// <summary>
    /// 72·L·C² + 12·L·T·C + 6·C·V: 6 FLOPs per weight per token (forward 2, backward 4) for the 12LC²
    /// block weights and the head, plus the attention score and value products over all T keys.
    /// </summary>
    public double TrainingFlopsPerToken =>
        72.0 * Layers * Width * (double)Width + 12.0 * Layers * Seq * Width + 6.0 * Width * Vocab;

    /// <summary>
    /// As <see cref="TrainingFlopsPerToken"/> but counting only the lower triangle of causal attention
    /// (6·L·T·C instead of 12·L·T·C): the work a kernel that skips masked entries really does.
    /// </summary>
    public double TrainingFlopsPerTokenCausal =>
        72.0 * Layers * Width * (double)Width + 6.0 * Layers * Seq * Width + 6.0 * Width * Vocab;

    /// <summary>Throws a UserError naming the first invalid value.</summary>
    public void Validate()
    {
        Positive(Layers, "layers");
        Positive(Width, "width");
        Positive(Heads, "heads");
        Positive(Vocab, "vocab");
        Positive(Side, "side");
        if (Classes < 0)
            throw new UserError($"model classes = {Classes} is negative. HINT: use 0 for no classifier head");
        if (Width % Heads != 0)
            throw new UserError($"model width = {Width} is not divisible by heads = {Heads}. HINT: choose width a multiple of heads, e.g. width = {Heads * Math.Max(1, Width / Heads)}");
        if (Vocab > ushort.MaxValue + 1)
            throw new UserError($"model vocab = {Vocab} exceeds 65536. HINT: tokens are palette indices; use a smaller palette");
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
            throw new UserError($"model {name} = {value} must be positive. HINT: set {name} to a value >= 1");
    }

    /// <summary>One line for logs: the shape, parameters and FLOPs per token.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"iGPT {Objective} L={Layers} C={Width} NH={Heads} V={Vocab} T={Seq} ({Side}x{Side}) K={Classes} seed={Seed}: " +
        $"{ParameterCount:N0} parameters, {TrainingFlopsPerToken / 1e6:F2} MFLOP/token training " +
        $"({TrainingFlopsPerTokenCausal / 1e6:F2} counting causal attention's lower triangle only)");
}
