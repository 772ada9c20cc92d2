namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Attention entry point used by the model. This version delegates to <see cref="AttentionNaive"/>;
/// the fast-kernel branch replaces this file with a SIMD, threaded one of the same signatures.
/// </summary>
public static class Attention
{
    public static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
    {
        // q,k,v (B,T,C), att (B,NH,T,T), out (B,T,C)
        _ = threads;
        AttentionNaive.Forward(@out, att, q, k, v, B, T, C, NH, causal);
    }

    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal, int threads = 1)
    {
        // dq,dk,dv (B,T,C) accumulate; scratch >= B*NH*T*T floats
        _ = threads;
        AttentionNaive.Backward(dq, dk, dv, scratch, dout, att, q, k, v, B, T, C, NH, causal);
    }
}
