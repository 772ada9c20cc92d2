namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Token + position embedding for both objectives. Autoregressive: input shifted right, position 0
/// gets <c>sos</c>, position t gets wte[tokens[t-1]]. Masked (BERT): position t gets wte[tokens[t]],
/// or nothing when mask[t] != 0 (the masked token embedding is the zero vector); no SOS.
/// Positions are added after the shift. An empty mask means "nothing masked".
/// </summary>
public static unsafe class Embedding
{
    /// <summary>Below this many elements a second thread costs more to start than it saves.</summary>
    private const int ParallelMin = 1 << 15;

    public static void Forward(Span<float> @out, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask,
        ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, ReadOnlySpan<float> sos, int B, int T, int C, bool shifted,
        int threads = 1)
    {
        // tokens (B,T), mask (B,T) or empty, wte (V,C), wpe (T,C), sos (C), out (B,T,C); rows are independent,
        // so threads take fixed row ranges and any thread count gives the same bits
        int BT = B * T;
        if (threads > 1 && (long)BT * C >= ParallelMin)
        {
            fixed (float* o = @out, te = wte, pe = wpe, so = sos)
            fixed (int* tk = tokens)
            fixed (byte* m = mask)
                KernelThreads.Run(threads, new ForwardJob((nint)o, (nint)te, (nint)pe, (nint)so, (nint)tk, (nint)m,
                    @out.Length, wte.Length, wpe.Length, sos.Length, tokens.Length, mask.Length, BT, T, C, shifted));
            return;
        }
        ForwardRows(@out, tokens, mask, wte, wpe, sos, 0, BT, T, C, shifted);
    }

    public static void Backward(Span<float> dwte, Span<float> dwpe, Span<float> dsos, ReadOnlySpan<float> dout,
        ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask, int B, int T, int C, bool shifted)
    {
        // dout (B,T,C); dwte (V,C), dwpe (T,C), dsos (C) accumulate, on one thread. Each table row sums
        // positions in order, so threads could only split the columns, and two threads' halves of a row meet
        // inside a cache line (the tables are not aligned to lines): split so, the L8 d64 step's embedding
        // time at two threads was 1.20 ms against 0.51 on one.
        for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
        {
            int bt = b * T + t;
            var d = dout.Slice(bt * C, C);
            // forward: out[b,t] = source[b,t] + wpe[t]
            var dpos = dwpe.Slice(t * C, C);
            Elementwise.Add(dpos, d, dpos);
            if (!Source(tokens, mask, bt, t, shifted, out int token))
                continue;
            var dsrc = token < 0 ? dsos : dwte.Slice(token * C, C);
            Elementwise.Add(dsrc, d, dsrc);
        }
    }

    private readonly struct ForwardJob(nint o, nint te, nint pe, nint so, nint tk, nint m, int no, int nte, int npe, int nso,
        int ntk, int nm, int BT, int T, int C, bool shifted) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (r0, r1) = KernelThreads.Range(BT, t, threads);
            ForwardRows(new Span<float>((float*)o, no), new ReadOnlySpan<int>((int*)tk, ntk), new ReadOnlySpan<byte>((byte*)m, nm),
                new ReadOnlySpan<float>((float*)te, nte), new ReadOnlySpan<float>((float*)pe, npe), new ReadOnlySpan<float>((float*)so, nso),
                r0, r1, T, C, shifted);
        }
    }

    /// <summary>Output rows [r0, r1) (positions bt of the flattened (B,T)).</summary>
    private static void ForwardRows(Span<float> @out, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> mask,
        ReadOnlySpan<float> wte, ReadOnlySpan<float> wpe, ReadOnlySpan<float> sos, int r0, int r1, int T, int C, bool shifted)
    {
        for (int bt = r0; bt < r1; bt++)
        {
            int t = bt % T;
            var o = @out.Slice(bt * C, C);
            var pos = wpe.Slice(t * C, C);
            if (!Source(tokens, mask, bt, t, shifted, out int token))
                pos.CopyTo(o);
            else
                Elementwise.Add(token < 0 ? sos : wte.Slice(token * C, C), pos, o);
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
