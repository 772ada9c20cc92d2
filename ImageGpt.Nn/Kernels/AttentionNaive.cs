namespace ImageGpt.Nn.Kernels;

/// <summary>Plain-loop multi-head attention: the oracle the fast <see cref="Attention"/> is tested against.</summary>
public static class AttentionNaive
{
    // q,k,v (B,T,C), head h in columns [h*HS,(h+1)*HS); att (B,NH,T,T) softmax probabilities; out (B,T,C)
    public static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal)
    {
        int HS = C / NH;
        float scale = 1f / MathF.Sqrt(HS);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++)
                {
                    int qo = (b * T + t) * C + h * HS;
                    int ao = ((b * NH + h) * T + t) * T;
                    int last = causal ? t : T - 1;
                    float max = float.NegativeInfinity;
                    for (int t2 = 0; t2 <= last; t2++)
                    {
                        int ko = (b * T + t2) * C + h * HS;
                        float s = 0f;
                        for (int i = 0; i < HS; i++) s += q[qo + i] * k[ko + i];
                        s *= scale;
                        att[ao + t2] = s;
                        if (s > max) max = s;
                    }
                    float sum = 0f;
                    for (int t2 = 0; t2 <= last; t2++)
                    {
                        float e = MathF.Exp(att[ao + t2] - max);
                        att[ao + t2] = e;
                        sum += e;
                    }
                    for (int t2 = 0; t2 < T; t2++)
                        att[ao + t2] = t2 <= last ? att[ao + t2] / sum : 0f;
                    for (int i = 0; i < HS; i++)
                    {
                        float o = 0f;
                        for (int t2 = 0; t2 <= last; t2++) o += att[ao + t2] * v[(b * T + t2) * C + h * HS + i];
                        @out[qo + i] = o;
                    }
                }
    }

    // dout (B,T,C), att (B,NH,T,T), q,k,v (B,T,C); dq,dk,dv (B,T,C) accumulate; scratch (B,NH,T,T)
    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal)
    {
        int HS = C / NH;
        float scale = 1f / MathF.Sqrt(HS);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++)
                for (int t = 0; t < T; t++)
                {
                    int qo = (b * T + t) * C + h * HS;
                    int ao = ((b * NH + h) * T + t) * T;
                    int last = causal ? t : T - 1;
                    // scratch row holds datt, then dpreatt
                    // forward: out[t,i] = sum_t2 att[t,t2] * v[t2,i]
                    for (int t2 = 0; t2 <= last; t2++)
                    {
                        int vo = (b * T + t2) * C + h * HS;
                        float d = 0f;
                        for (int i = 0; i < HS; i++)
                        {
                            d += dout[qo + i] * v[vo + i];
                            dv[vo + i] += att[ao + t2] * dout[qo + i];
                        }
                        scratch[ao + t2] = d;
                    }
                    // forward: att[t,:] = softmax(preatt[t,:]); dpreatt[t2] = att[t2] * (datt[t2] - sum_t3 att[t3] datt[t3])
                    float dot = 0f;
                    for (int t2 = 0; t2 <= last; t2++) dot += att[ao + t2] * scratch[ao + t2];
                    for (int t2 = 0; t2 <= last; t2++) scratch[ao + t2] = att[ao + t2] * (scratch[ao + t2] - dot);
                    // forward: preatt[t,t2] = scale * sum_i q[t,i] * k[t2,i]
                    for (int t2 = 0; t2 <= last; t2++)
                    {
                        int ko = (b * T + t2) * C + h * HS;
                        float g = scale * scratch[ao + t2];
                        for (int i = 0; i < HS; i++)
                        {
                            dq[qo + i] += g * k[ko + i];
                            dk[ko + i] += g * q[qo + i];
                        }
                    }
                }
    }
}
