using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>iGPT's sigmoid GELU approximation: gelu2(x) = x · sigmoid(1.702 x).</summary>
public static class Gelu2
{
    public const float K = 1.702f;
    private const int Chunk = 256;

    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, int N)
    {
        // inp (N), out (N)
        var x = inp[..N];
        var y = @out[..N];
        TensorPrimitives.Multiply(x, K, y);
        TensorPrimitives.Sigmoid(y, y);
        TensorPrimitives.Multiply(y, x, y);
    }

    public static void Backward(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N)
    {
        // inp (N), dout (N); dinp (N) accumulates
        // forward: y = x s, s = sigmoid(K x)  ->  dy/dx = s + K x s (1 - s) = s (1 + K x (1 - s))
        Span<float> s = stackalloc float[Chunk];
        Span<float> g = stackalloc float[Chunk];
        for (int start = 0; start < N; start += Chunk)
        {
            int n = Math.Min(Chunk, N - start);
            var x = inp.Slice(start, n);
            var sn = s[..n];
            var gn = g[..n];
            TensorPrimitives.Multiply(x, K, sn);
            TensorPrimitives.Sigmoid(sn, sn);
            TensorPrimitives.Subtract(1f, sn, gn);
            TensorPrimitives.Multiply(gn, x, gn);
            TensorPrimitives.Multiply(gn, K, gn);
            TensorPrimitives.Add(gn, 1f, gn);
            TensorPrimitives.Multiply(gn, sn, gn);
            var dx = dinp.Slice(start, n);
            TensorPrimitives.MultiplyAdd(gn, dout.Slice(start, n), dx, dx);
        }
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<float> inp, int N)
    {
        // inp (N), out (N)
        for (int i = 0; i < N; i++)
            @out[i] = inp[i] / (1f + MathF.Exp(-K * inp[i]));
    }

    public static void BackwardNaive(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout, int N)
    {
        // inp (N), dout (N); dinp (N) accumulates
        // forward: y = x * sigmoid(K x)
        for (int i = 0; i < N; i++)
        {
            float s = 1f / (1f + MathF.Exp(-K * inp[i]));
            dinp[i] += dout[i] * (s + K * inp[i] * s * (1f - s));
        }
    }
}
