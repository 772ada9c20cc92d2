namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Linear layer entry point used by the model. This version delegates to <see cref="MatmulNaive"/>;
/// the fast-kernel branch replaces this file with a blocked SIMD one of the same signatures.
/// </summary>
public static class Matmul
{
    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads = 1)
    {
        // inp (BT,C), weight (OC,C), out (BT,OC): out = inp @ weight^T (overwritten)
        _ = threads;
        MatmulNaive.Forward(@out, inp, weight, BT, C, OC);
    }

    public static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads = 1)
    {
        // dinp (BT,C) += dout @ weight; dweight (OC,C) += dout^T @ inp
        _ = threads;
        MatmulNaive.Backward(dinp, dweight, dout, inp, weight, BT, C, OC);
    }
}
