using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>Hand-checkable cases for the naive attention (its backward is checked by finite differences in GradCheckTests).</summary>
public sealed class KernelAttentionTests
{
    [Fact]
    public void Causal_attention_of_the_first_position_returns_its_own_value_and_zeroes_the_future()
    {
        const int T = 3, C = 2, NH = 1;
        float[] q = [1, 0, 0, 1, 1, 1];
        float[] k = [1, 0, 0, 1, 1, 1];
        float[] v = [1, 2, 3, 4, 5, 6];
        var att = new float[T * T];
        var y = new float[T * C];
        AttentionNaive.Forward(y, att, q, k, v, 1, T, C, NH, causal: true);
        Assert.Equal([1f, 2f], y[..2]);
        Assert.Equal([1f, 0f, 0f], att[..3]);
        // Row 1: scores q1·k0 = 0, q1·k1 = 1, scaled by 1/√2; probabilities are their softmax.
        float e = MathF.Exp(1f / MathF.Sqrt(2f));
        Assert.Equal(1f / (1f + e), att[3], 6);
        Assert.Equal(e / (1f + e), att[4], 6);
        Assert.Equal(0f, att[5]);
        Assert.Equal((1f + 3f * e) / (1f + e), y[2], 5);
    }

    [Fact]
    public void Bidirectional_attention_with_equal_scores_averages_all_values()
    {
        const int T = 4, C = 4, NH = 2;
        var q = new float[T * C];
        var k = new float[T * C];
        float[] v = Enumerable.Range(0, T * C).Select(i => (float)i).ToArray();
        var att = new float[2 * T * T];
        var y = new float[T * C];
        Attention.Forward(y, att, q, k, v, 1, T, C, NH, causal: false);
        Assert.All(att, a => Assert.Equal(0.25f, a, 6));
        for (int t = 0; t < T; t++)
            Assert.Equal([6f, 7f, 8f, 9f], y.AsSpan(t * C, C).ToArray());
    }

    [Fact]
    public void Matmul_computes_inp_times_weight_transposed_and_accumulates_gradients()
    {
        float[] inp = [1, 2, 3, 4, 5, 6];       // (BT=2, C=3)
        float[] w = [1, 0, -1, 2, 1, 0];         // (OC=2, C=3)
        var y = new float[4];
        Matmul.Forward(y, inp, w, 2, 3, 2);
        Assert.Equal([-2f, 4f, -2f, 13f], y);
        float[] dinp = [1, 1, 1, 1, 1, 1], dw = new float[6];
        Matmul.Backward(dinp, dw, [1, 0, 0, 1], inp, w, 2, 3, 2);
        Assert.Equal([2f, 1f, 0f, 3f, 2f, 1f], dinp);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], dw);
    }
}
