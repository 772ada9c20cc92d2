namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Linear layer without bias (PyTorch nn.Linear: weight [OC, C]) on the packed, blocked <see cref="Gemm"/>.
/// The three products are one routine with different strides. Results are bit-identical for every
/// `threads` value: threads own disjoint output tiles and the reduction order over C, OC or BT is fixed.
/// </summary>
public static unsafe class Matmul
{
    /// <summary>The SIMD width the kernels run with on this CPU (V512, V256 or Scalar), for benchmarks and logs.</summary>
    public static string InstructionSet => Gemm.Best.ToString();

    // inp (BT,C), weight (OC,C), out (BT,OC): out = inp @ weight^T (out is overwritten)
    public static void Forward(Span<float> @out, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight,
        int BT, int C, int OC, int threads = 1)
        => Forward(@out, inp, weight, BT, C, OC, threads, Gemm.Best);

    internal static void Forward(Span<float> @out, ReadOnlySpan<float> inp, ReadOnlySpan<float> weight,
        int BT, int C, int OC, int threads, Gemm.Isa isa)
    {
        Check(BT, C, OC);
        CheckLength(@out.Length, (long)BT * OC, nameof(@out));
        CheckLength(inp.Length, (long)BT * C, nameof(inp));
        CheckLength(weight.Length, (long)OC * C, nameof(weight));
        fixed (float* o = @out, x = inp, w = weight)
        {
            // A = inp row-major (BT x C); B[k=c, n=oc] = weight[oc*C + c]: weight read as its transpose.
            Gemm.Run(o, OC, x, C, 1, w, 1, C, BT, OC, C, accumulate: false, threads, isa);
        }
    }

    // inp (BT,C), weight (OC,C), residual (BT,OC), out (BT,OC): out = residual + inp @ weight^T
    /// <summary>
    /// Forward followed by the residual add (<see cref="Residual.Forward"/>), fused: each finished tile gets
    /// the residual added while it is in L1, so the product itself is never stored. The same bits as the
    /// two calls (one float add per element, a + b = b + a).
    /// </summary>
    internal static void ForwardResidual(Span<float> @out, ReadOnlySpan<float> residual, ReadOnlySpan<float> inp,
        ReadOnlySpan<float> weight, int BT, int C, int OC, int threads = 1, Gemm.Isa? isa = null)
    {
        Check(BT, C, OC);
        CheckLength(@out.Length, (long)BT * OC, nameof(@out));
        CheckLength(residual.Length, (long)BT * OC, nameof(residual));
        CheckLength(inp.Length, (long)BT * C, nameof(inp));
        CheckLength(weight.Length, (long)OC * C, nameof(weight));
        fixed (float* o = @out, r = residual, x = inp, w = weight)
            Gemm.Run(o, OC, x, C, 1, w, 1, C, BT, OC, C, accumulate: false, threads, isa ?? Gemm.Best, Gemm.Epilogue.Add, r);
    }

    // dout (BT,OC), inp (BT,C), weight (OC,C); dinp (BT,C) overwritten, dweight (OC,C) accumulates
    /// <summary>
    /// Backward for a dinp nobody else adds to: dinp is written, never read, so the caller need not clear
    /// it. The product starts each element's FMA chain at zero exactly as accumulating into a cleared
    /// buffer does, so the bits are those of clear-then-Backward.
    /// </summary>
    internal static void BackwardOverwrite(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads = 1)
        => BackwardBoth(dinp, dweight, dout, inp, weight, BT, C, OC, threads, Gemm.Best, accumulateDinp: false);

    // dout (BT,OC), inp (BT,C), weight (OC,C); dinp (BT,C) and dweight (OC,C) accumulate
    public static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads = 1)
        => Backward(dinp, dweight, dout, inp, weight, BT, C, OC, threads, Gemm.Best);

    internal static void Backward(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads, Gemm.Isa isa)
        => BackwardBoth(dinp, dweight, dout, inp, weight, BT, C, OC, threads, isa, accumulateDinp: true);

    /// <summary>
    /// The input and weight products of Backward as one pair (<see cref="Gemm.RunPair"/>): with two threads
    /// each runs on a core of its own. The same bits as BackwardInput then BackwardWeight.
    /// </summary>
    private static void BackwardBoth(Span<float> dinp, Span<float> dweight, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, int BT, int C, int OC, int threads, Gemm.Isa isa,
        bool accumulateDinp)
    {
        Check(BT, C, OC);
        CheckLength(dinp.Length, (long)BT * C, nameof(dinp));
        CheckLength(dweight.Length, (long)OC * C, nameof(dweight));
        CheckLength(dout.Length, (long)BT * OC, nameof(dout));
        CheckLength(inp.Length, (long)BT * C, nameof(inp));
        CheckLength(weight.Length, (long)OC * C, nameof(weight));
        fixed (float* di = dinp, dw = dweight, g = dout, x = inp, w = weight)
            Gemm.RunPair(InputProduct(di, g, w, BT, C, OC, accumulateDinp), WeightProduct(dw, g, x, BT, C, OC), threads, isa);
    }

    // forward: out[bt,oc] = sum_c inp[bt,c] * weight[oc,c]
    // dinp[bt,c] (+)= sum_oc dout[bt,oc] * weight[oc,c]: A = dout row-major, B = weight row-major.
    private static Gemm.Product InputProduct(float* dinp, float* dout, float* weight, int BT, int C, int OC, bool accumulate)
        => new(dinp, C, dout, OC, 1, weight, C, 1, BT, C, OC, accumulate);

    // dweight[oc,c] += sum_bt dout[bt,oc] * inp[bt,c]: A = dout read as its transpose (OC x BT), B = inp
    // row-major; threads split OC or C, never the BT reduction, so any thread count gives the same bits.
    private static Gemm.Product WeightProduct(float* dweight, float* dout, float* inp, int BT, int C, int OC)
        => new(dweight, C, dout, 1, OC, inp, C, 1, OC, C, BT, accumulate: true);

    // dout (BT,OC), weight (OC,C), dinp (BT,C): the input half of Backward (dinp accumulates)
    public static void BackwardInput(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> weight,
        int BT, int C, int OC, int threads = 1)
    {
        Check(BT, C, OC);
        CheckLength(dinp.Length, (long)BT * C, nameof(dinp));
        CheckLength(dout.Length, (long)BT * OC, nameof(dout));
        CheckLength(weight.Length, (long)OC * C, nameof(weight));
        fixed (float* di = dinp, g = dout, w = weight)
            InputProduct(di, g, w, BT, C, OC, accumulate: true).Run(threads, Gemm.Best);
    }

    // dout (BT,OC), inp (BT,C), dweight (OC,C): the weight half of Backward (dweight accumulates)
    public static void BackwardWeight(Span<float> dweight, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp,
        int BT, int C, int OC, int threads = 1)
    {
        Check(BT, C, OC);
        CheckLength(dweight.Length, (long)OC * C, nameof(dweight));
        CheckLength(dout.Length, (long)BT * OC, nameof(dout));
        CheckLength(inp.Length, (long)BT * C, nameof(inp));
        fixed (float* dw = dweight, g = dout, x = inp)
            WeightProduct(dw, g, x, BT, C, OC).Run(threads, Gemm.Best);
    }

    private static void Check(int BT, int C, int OC)
    {
        if (BT < 0 || C < 0 || OC < 0)
            throw new ArgumentException($"negative dimension: BT={BT} C={C} OC={OC}");
    }

    private static void CheckLength(int actual, long needed, string name)
    {
        if (actual < needed)
            throw new ArgumentException($"{name} has {actual} floats, needs {needed}", name);
    }
}
