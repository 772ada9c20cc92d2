namespace ImageGpt.Nn.Kernels;

/// <summary>Plain-loop multi-head attention: the oracle for <see cref="Attention"/>.</summary>
public static class AttentionNaive
{
    public static void Forward(Span<float> @out, Span<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal)
    {
        // q,k,v (B,T,C), head h in columns [h*HS,(h+1)*HS); att (B,NH,T,T); out (B,T,C)
        int HS = C / NH;
        float scale = 1f / MathF.Sqrt(HS);
        for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
        for (int t = 0; t < T; t++)
        {
            var qt = q.Slice((b * T + t) * C + h * HS, HS);
            var row = att.Slice(((b * NH + h) * T + t) * T, T);
            int last = causal ? t : T - 1;
            float max = float.NegativeInfinity;
            for (int t2 = 0; t2 <= last; t2++)
            {
                var kt = k.Slice((b * T + t2) * C + h * HS, HS);
                float dot = 0f;
                for (int i = 0; i < HS; i++) dot += qt[i] * kt[i];
                row[t2] = dot * scale;
                max = MathF.Max(max, row[t2]);
            }
            float sum = 0f;
            for (int t2 = 0; t2 <= last; t2++)
            {
                row[t2] = MathF.Exp(row[t2] - max);
                sum += row[t2];
            }
            float inv = 1f / sum;
            for (int t2 = 0; t2 < T; t2++)
                row[t2] = t2 <= last ? row[t2] * inv : 0f;

            var o = @out.Slice((b * T + t) * C + h * HS, HS);
            o.Clear();
            for (int t2 = 0; t2 <= last; t2++)
            {
                var vt = v.Slice((b * T + t2) * C + h * HS, HS);
                for (int i = 0; i < HS; i++) o[i] += row[t2] * vt[i];
            }
        }
    }

    public static void Backward(Span<float> dq, Span<float> dk, Span<float> dv, Span<float> scratch,
        ReadOnlySpan<float> dout, ReadOnlySpan<float> att, ReadOnlySpan<float> q, ReadOnlySpan<float> k,
        ReadOnlySpan<float> v, int B, int T, int C, int NH, bool causal)
    {
        // dout (B,T,C), att (B,NH,T,T); dq,dk,dv (B,T,C) accumulate; scratch >= B*NH*T*T
        int HS = C / NH;
        float scale = 1f / MathF.Sqrt(HS);
        for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
        for (int t = 0; t < T; t++)
        {
            int rowOffset = ((b * NH + h) * T + t) * T;
            var row = att.Slice(rowOffset, T);
            var drow = scratch.Slice(rowOffset, T);
            int last = causal ? t : T - 1;
            var dot = dout.Slice((b * T + t) * C + h * HS, HS);

            // forward: out[t] = sum_t2 att[t,t2] * v[t2]
            for (int t2 = 0; t2 <= last; t2++)
            {
                var vt = v.Slice((b * T + t2) * C + h * HS, HS);
                var dvt = dv.Slice((b * T + t2) * C + h * HS, HS);
                float datt = 0f;
                for (int i = 0; i < HS; i++)
                {
                    datt += vt[i] * dot[i];
                    dvt[i] += row[t2] * dot[i];
                }
                drow[t2] = datt;
            }

            // forward: att[t,:] = softmax(preatt[t,:]) -> dpre = att * (datt - sum(att * datt))
            float inner = 0f;
            for (int t2 = 0; t2 <= last; t2++) inner += row[t2] * drow[t2];
            for (int t2 = 0; t2 <= last; t2++) drow[t2] = row[t2] * (drow[t2] - inner);

            // forward: preatt[t,t2] = scale * q[t] . k[t2]
            var qt = q.Slice((b * T + t) * C + h * HS, HS);
            var dqt = dq.Slice((b * T + t) * C + h * HS, HS);
            for (int t2 = 0; t2 <= last; t2++)
            {
                var kt = k.Slice((b * T + t2) * C + h * HS, HS);
                var dkt = dk.Slice((b * T + t2) * C + h * HS, HS);
                float d = drow[t2] * scale;
                for (int i = 0; i < HS; i++)
                {
                    dqt[i] += d * kt[i];
                    dkt[i] += d * qt[i];
                }
            }
        }
    }
}
