namespace ImageGpt.Nn.Kernels;

/// <summary>Plain-loop linear layer (PyTorch nn.Linear without bias): the oracle for <see cref="Matmul"/>.</summary>
public static class MatmulNaive
{
    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC)
    {
        // inp (BT,C), weight (OC,C), out (BT,OC): out = inp @ weight^T
        for (int bt = 0; bt < BT; bt++)
        {
            var x = inp.Slice(bt * C, C);
            for (int o = 0; o < OC; o++)
            {
                var w = weight.Slice(o * C, C);
                float sum = 0f;
                for (int c = 0; c < C; c++) sum += x[c] * w[c];
                @out[bt * OC + o] = sum;
            }
        }
    }

    public static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC)
    {
        // inp (BT,C), weight (OC,C), dout (BT,OC); dinp (BT,C) and dweight (OC,C) accumulate
        // forward: out[bt,o] = sum_c inp[bt,c] * weight[o,c]
        for (int bt = 0; bt < BT; bt++)
        {
            for (int o = 0; o < OC; o++)
            {
                float d = dout[bt * OC + o];
                for (int c = 0; c < C; c++)
                {
                    dinp[bt * C + c] += d * weight[o * C + c];
                    dweight[o * C + c] += d * inp[bt * C + c];
                }
            }
        }
    }
}
