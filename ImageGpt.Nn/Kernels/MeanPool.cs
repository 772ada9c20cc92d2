using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>Mean over the sequence: the classifier's pooling and the linear probe's features.</summary>
public static class MeanPool
{
    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, int B, int T, int C)
    {
        // inp (B,T,C), out (B,C)
        for (int b = 0; b < B; b++)
        {
            var o = @out.Slice(b * C, C);
            inp.Slice(b * T * C, C).CopyTo(o);
            for (int t = 1; t < T; t++)
                TensorPrimitives.Add(o, inp.Slice((b * T + t) * C, C), o);
            TensorPrimitives.Divide(o, (float)T, o);
        }
    }

    public static void Backward(Span<float> dinp, ReadOnlySpan<float> dout, int B, int T, int C)
    {
        // dout (B,C); dinp (B,T,C) accumulates
        // forward: out[b] = Σ_t inp[b,t] / T
        for (int b = 0; b < B; b++)
        {
            var d = dout.Slice(b * C, C);
            for (int t = 0; t < T; t++)
            {
                var di = dinp.Slice((b * T + t) * C, C);
                TensorPrimitives.MultiplyAdd(d, 1f / T, di, di);
            }
        }
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<float> inp, int B, int T, int C)
    {
        // inp (B,T,C), out (B,C)
        for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
        {
            float sum = 0f;
            for (int t = 0; t < T; t++) sum += inp[(b * T + t) * C + c];
            @out[b * C + c] = sum / T;
        }
    }

    public static void BackwardNaive(Span<float> dinp, ReadOnlySpan<float> dout, int B, int T, int C)
    {
        // dout (B,C); dinp (B,T,C) accumulates
        // forward: out[b] = Σ_t inp[b,t] / T
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++)
            dinp[(b * T + t) * C + c] += dout[b * C + c] / T;
    }
}
