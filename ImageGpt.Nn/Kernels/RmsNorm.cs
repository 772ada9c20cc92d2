using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>RMS norm with a gain and no bias: y = x · rsqrt(mean(x²) + 1e-5) · g.</summary>
public static class RmsNorm
{
    public const float Eps = 1e-5f;

    public static void Forward(Span<float> @out, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, int BT, int C)
    {
        // inp (BT,C), gain (C), out (BT,C), rstd (BT) saved for backward
        for (int bt = 0; bt < BT; bt++)
        {
            var x = inp.Slice(bt * C, C);
            var y = @out.Slice(bt * C, C);
            float r = 1f / MathF.Sqrt(TensorPrimitives.Dot(x, x) / C + Eps);
            rstd[bt] = r;
            TensorPrimitives.Multiply(x, r, y);
            TensorPrimitives.Multiply(y, gain, y);
        }
    }

    public static void Backward(Span<float> dinp, Span<float> dgain, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, ReadOnlySpan<float> rstd, int BT, int C)
    {
        // dout (BT,C), inp (BT,C), gain (C), rstd (BT); dinp (BT,C) and dgain (C) accumulate
        // forward: y[i] = x[i] * r * g[i], r = (mean(x²) + eps)^-1/2, dr/dx[j] = -r³ x[j] / C
        // so dx[i] = r g[i] dy[i] - (r³/C) x[i] Σ_j dy[j] g[j] x[j];  dg[i] = dy[i] x[i] r
        Span<float> tmp = C <= 4096 ? stackalloc float[C] : new float[C];
        for (int bt = 0; bt < BT; bt++)
        {
            var x = inp.Slice(bt * C, C);
            var dy = dout.Slice(bt * C, C);
            var dx = dinp.Slice(bt * C, C);
            float r = rstd[bt];
            TensorPrimitives.Multiply(dy, x, tmp);
            TensorPrimitives.MultiplyAdd(tmp, r, dgain, dgain);
            float dot = TensorPrimitives.Dot(tmp, gain);
            TensorPrimitives.Multiply(dy, gain, tmp);
            TensorPrimitives.MultiplyAdd(tmp, r, dx, dx);
            TensorPrimitives.MultiplyAdd(x, -r * r * r * dot / C, dx, dx);
        }
    }

    public static void ForwardNaive(Span<float> @out, Span<float> rstd, ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, int BT, int C)
    {
        // inp (BT,C), gain (C), out (BT,C), rstd (BT)
        for (int bt = 0; bt < BT; bt++)
        {
            float ss = 0f;
            for (int c = 0; c < C; c++) ss += inp[bt * C + c] * inp[bt * C + c];
            float r = 1f / MathF.Sqrt(ss / C + Eps);
            rstd[bt] = r;
            for (int c = 0; c < C; c++) @out[bt * C + c] = inp[bt * C + c] * r * gain[c];
        }
    }

    public static void BackwardNaive(Span<float> dinp, Span<float> dgain, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> gain, ReadOnlySpan<float> rstd, int BT, int C)
    {
        // dout (BT,C), inp (BT,C), gain (C), rstd (BT); dinp (BT,C) and dgain (C) accumulate
        // forward: y[i] = x[i] * r * g[i]
        for (int bt = 0; bt < BT; bt++)
        {
            float r = rstd[bt];
            float dot = 0f;
            for (int c = 0; c < C; c++) dot += dout[bt * C + c] * gain[c] * inp[bt * C + c];
            for (int c = 0; c < C; c++)
            {
                int i = bt * C + c;
                dgain[c] += dout[i] * inp[i] * r;
                dinp[i] += r * gain[c] * dout[i] - r * r * r * dot / C * inp[i];
            }
        }
    }
}
