namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Linear layer without bias (PyTorch nn.Linear: weight [OC, C]) on the packed, blocked <see cref="Gemm"/>.
/// The three products are one routine with different strides. Results are bit-identical for every
/// `threads` value: threads own disjoint output tiles and the reduction order over C, OC or BT is fixed
/// (dweight's over BT in two fixed halves, see WeightHalf).
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
    /// The input product and the weight product's two halves at once (<see cref="Gemm.RunThree"/>): with two
    /// threads each computes half of dinp and one half of dweight. The same bits as BackwardInput then BackwardWeight.
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
        if (BT == 0) return;
        fixed (float* di = dinp, dw = dweight, g = dout, x = inp, w = weight, part = Partial(OC * C))
        {
            Gemm.RunThree(InputProduct(di, g, w, BT, C, OC, accumulateDinp), WeightHalf(dw, g, x, 0, BT / 2, C, OC, accumulate: true),
                WeightHalf(part, g, x, BT / 2, BT, C, OC, accumulate: false), threads, isa);
            AddPartial(dw, part, OC * C);
        }
    }

    // forward: out[bt,oc] = sum_c inp[bt,c] * weight[oc,c]
    // dinp[bt,c] (+)= sum_oc dout[bt,oc] * weight[oc,c]: A = dout row-major, B = weight row-major.
    private static Gemm.Product InputProduct(float* dinp, float* dout, float* weight, int BT, int C, int OC, bool accumulate)
        => new(dinp, C, dout, OC, 1, weight, C, 1, BT, C, OC, accumulate);

    // dweight[oc,c] += sum_bt dout[bt,oc] * inp[bt,c] in two halves of the reduction, fixed whatever the
    // thread count: rows [0, BT/2) add onto dweight, rows [BT/2, BT) make a partial (written, not added to)
    // that is then added to dweight. A = dout read as its transpose (OC x rows), B = inp row-major; threads
    // split a half's OC or C, never its rows, so any thread count gives the same bits. Two halves let two
    // threads share the product while each reads only half of dout and inp (the layer's input, long out of
    // cache by backward): split by OC tiles, both read all of inp; whole on one thread, the other one waits.
    private static Gemm.Product WeightHalf(float* dweight, float* dout, float* inp, int bt0, int bt1, int C, int OC, bool accumulate)
        => new(dweight, C, dout + (nint)bt0 * OC, 1, OC, inp + (nint)bt0 * C, C, 1, OC, C, bt1 - bt0, accumulate);

    /// <summary>The calling thread's buffer for the second half of a weight product, grown to the largest asked for.</summary>
    [ThreadStatic] private static float[]? _partial;

    private static float[] Partial(int n)
    {
        if (_partial is null || _partial.Length < n) _partial = GC.AllocateUninitializedArray<float>(Math.Max(n, 1), pinned: true);
        return _partial;
    }

    private static void AddPartial(float* dweight, float* partial, int n) =>
        Elementwise.Add(new ReadOnlySpan<float>(dweight, n), new ReadOnlySpan<float>(partial, n), new Span<float>(dweight, n));

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
        if (BT == 0) return;
        fixed (float* dw = dweight, g = dout, x = inp, part = Partial(OC * C))
        {
            WeightHalf(dw, g, x, 0, BT / 2, C, OC, accumulate: true).Run(threads, Gemm.Best);
            WeightHalf(part, g, x, BT / 2, BT, C, OC, accumulate: false).Run(threads, Gemm.Best);
            AddPartial(dw, part, OC * C);
        }
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
