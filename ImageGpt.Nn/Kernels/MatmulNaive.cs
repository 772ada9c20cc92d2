namespace ImageGpt.Nn.Kernels;

/// <summary>Plain-loop linear layer: the oracle the fast <see cref="Matmul"/> is tested against.</summary>
public static class MatmulNaive
{
    // inp (BT,C), weight (OC,C), out (BT,OC): out = inp @ weight^T (out is overwritten)
    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight,
        int BT, int C, int OC)
    {
        for (int bt = 0; bt < BT; bt++)
            for (int oc = 0; oc < OC; oc++)
            {
                float s = 0f;
                for (int c = 0; c < C; c++) s += inp[bt * C + c] * weight[oc * C + c];
                @out[bt * OC + oc] = s;
            }
    }

    // dout (BT,OC), inp (BT,C), weight (OC,C); dinp (BT,C) and dweight (OC,C) accumulate
    public static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC)
    {
        // forward: out[bt,oc] = sum_c inp[bt,c] * weight[oc,c]
        for (int bt = 0; bt < BT; bt++)
            for (int oc = 0; oc < OC; oc++)
            {
                float g = dout[bt * OC + oc];
                for (int c = 0; c < C; c++)
                {
                    dinp[bt * C + c] += g * weight[oc * C + c];
                    dweight[oc * C + c] += g * inp[bt * C + c];
                }
            }
    }
}
