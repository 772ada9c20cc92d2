using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Token + position embedding for both objectives. Autoregressive: input shifted right, position 0
/// gets <c>sos</c>, position t gets wte[tokens[t-1]]. Masked (BERT): position t gets wte[tokens[t]],
/// or nothing when mask[t] != 0 (the masked token embedding is the zero vector); no SOS.
/// Positions are added after the shift. An empty mask means "nothing masked".
/// </summary>
public static class Embedding
{
    public static void Forward(Span<float> @out, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask,
        ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, ReadOnlySpan<float> sos, int B, int T, int C, bool shifted)
    {
        // tokens (B,T), mask (B,T) or empty, wte (V,C), wpe (T,C), sos (C), out (B,T,C)
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        {
            int bt = b * T + t;
            var o = @out.Slice(bt * C, C);
            var pos = wpe.Slice(t * C, C);
            if (!Source(tokens, mask, bt, t, shifted, out int token))
                pos.CopyTo(o);
            else if (token < 0)
                TensorPrimitives.Add(sos, pos, o);
            else
                TensorPrimitives.Add(wte.Slice(token * C, C), pos, o);
        }
    }

    public static void Backward(Span<float> dwte, Span<float> dwpe, Span<float> dsos, ReadOnlySpan<float> dout,
        ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask, int B, int T, int C, bool shifted)
    {
        // dout (B,T,C); dwte (V,C), dwpe (T,C), dsos (C) accumulate
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        {
            int bt = b * T + t;
            var d = dout.Slice(bt * C, C);
            // forward: out[b,t] = source[b,t] + wpe[t]
            var dpos = dwpe.Slice(t * C, C);
            TensorPrimitives.Add(dpos, d, dpos);
            if (!Source(tokens, mask, bt, t, shifted, out int token))
                continue;
            var dsrc = token < 0 ? dsos : dwte.Slice(token * C, C);
            TensorPrimitives.Add(dsrc, d, dsrc);
        }
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask,
        ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, ReadOnlySpan<float> sos, int B, int T, int C, bool shifted)
    {
        // tokens (B,T), mask (B,T) or empty, wte (V,C), wpe (T,C), sos (C), out (B,T,C)
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        {
            int bt = b * T + t;
            bool has = Source(tokens, mask, bt, t, shifted, out int token);
            for (int c = 0; c < C; c++)
            {
                float src = !has ? 0f : token < 0 ? sos[c] : wte[token * C + c];
                @out[bt * C + c] = src + wpe[t * C + c];
            }
        }
    }

    public static void BackwardNaive(Span<float> dwte, Span<float> dwpe, Span<float> dsos, ReadOnlySpan<float> dout,
        ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask, int B, int T, int C, bool shifted)
    {
        // dout (B,T,C); dwte (V,C), dwpe (T,C), dsos (C) accumulate
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        {
            int bt = b * T + t;
            bool has = Source(tokens, mask, bt, t, shifted, out int token);
            for (int c = 0; c < C; c++)
            {
                float d = dout[bt * C + c];
                dwpe[t * C + c] += d;
                if (!has) continue;
                if (token < 0) dsos[c] += d;
                else dwte[token * C + c] += d;
            }
        }
    }

    /// <summary>Which table row feeds position bt: false = none (masked), token -1 = SOS.</summary>
    private static bool Source(ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask, int bt, int t, bool shifted, out int token)
    {
        if (shifted)
        {
            token = t == 0 ? -1 : tokens[bt - 1];
            return true;
        }
        token = tokens[bt];
        return mask.IsEmpty || mask[bt] == 0;
    }
}
