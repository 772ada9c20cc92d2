using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// The one general matrix product behind <see cref="Matmul"/>: C (M,N) (+)= A (M,K) · B (K,N), where
/// A[m,k] = a[m*aRow + k*aCol] and B[k,n] = b[k*bRow + n*bCol] (so transposes are strides, never copies).
/// Blocked BLIS-style: B is packed per (KC x NC) block into NR-wide k-major strips (zero padded at the
/// right edge) that stay in L1 while the register tile (8 x 32 on AVX-512, 6 x 16 on AVX2) sweeps MR rows
/// of A read in place (A is either row-major, aCol == 1, or column-major, aRow == 1, and both give the
/// micro-kernel cheap broadcasts). A short-row B that few rows reuse is read in place instead of packed.
/// Determinism: every C element is one FMA chain over k in increasing order, split at the same fixed KC
/// boundaries whatever the thread count or tile position, so results are bit-identical for any threads.
/// </summary>
internal static unsafe class Gemm
{
    internal enum Isa { Scalar, V256, V512 }

    /// <summary>
    /// What happens to each finished C tile while it is still in L1 (after its last K block): Add makes
    /// c = c + e, e a matrix of C's shape and stride (a residual connection), so the product itself is
    /// never stored and read back. (gelu2 and its slope were tried here too and made a training step 5%
    /// slower: reading a (BT, 4C) operand tile by tile streams worse than a pass of its own.)
    /// </summary>
    internal enum Epilogue { None, Add }

    /// <summary>The widest instruction set this CPU runs fast; tests pass the others to cover the fallbacks.</summary>
    internal static readonly Isa Best =
        Vector512.IsHardwareAccelerated ? Isa.V512 : Vector256.IsHardwareAccelerated ? Isa.V256 : Isa.Scalar;

    // KC x NR strip of packed B: 256 x 32 floats = 32 KiB, fits L1 (48 KiB on Zen 5) beside the A rows.
    private const int KC = 256;
    // KC x NC packed B block: 256 x 512 floats = 512 KiB, lives in L2 while all M rows pass over it.
    private const int NC = 512;
    // K block when A is column-major (dweight = dout^T inp, K = BT): an 8-column A panel reads 32 bytes of
    // a new cache line at every k, so a shorter block keeps more of the panels in L1 beside the B strip;
    // 128 instead of 256 made the width-64 dweight products ~10% faster (bench-gemm, 173-180 -> 187-199 GFLOP/s).
    private const int KcColumnMajorA = 128;
    // Rows of A per pass over the B strips: MC x KC of A (64 KiB) stays in L2 across the strips.
    private const int MC = 96;
    // Longest B row (floats) read in place rather than packed. A strip read in place has a row every bRow
    // floats, and at 128 floats (512 B) or more its lines crowd into a quarter of L1's sets or fewer and
    // evict each other: packing such a B made the width-128 dweight products ~25% faster (59-65% -> 76-83%
    // of the FMA ceiling), while width 64 (256 B rows) gains nothing from the copy.
    private const int DirectMaxStride = 64;
    // Most rows of A for which B is read in place: beyond this the packing pass is amortized.
    private const int DirectMaxRows = 1024;

    public static void Run(float* c, int ldc, float* a, int aRow, int aCol, float* b, int bRow, int bCol,
        int M, int N, int K, bool accumulate, int threads, Isa isa, Epilogue epilogue = Epilogue.None, float* e = null)
    {
        Debug.Assert(M >= 0 && N >= 0 && K >= 0);
        Debug.Assert((epilogue == Epilogue.None) == (e == null));
        if (M == 0 || N == 0) return;
        if (K == 0)
        {
            if (!accumulate)
                for (int m = 0; m < M; m++) new Span<float>(c + (nint)m * ldc, N).Clear();
            if (epilogue != Epilogue.None) ApplyEpilogue(epilogue, c, e, ldc, M, N, isa);
            return;
        }
        if (isa == Isa.Scalar)
        {
            Scalar(c, ldc, a, aRow, aCol, b, bRow, bCol, M, N, K, accumulate);
            if (epilogue != Epilogue.None) ApplyEpilogue(epilogue, c, e, ldc, M, N, isa);
            return;
        }
        var job = Plan(c, ldc, a, aRow, aCol, b, bRow, bCol, M, N, K, accumulate, threads, isa, epilogue, e, out int pieces);
        if (pieces == 1) job.Run(0, 1);
        else KernelThreads.Run(pieces, job);
    }

    /// <summary>
    /// Three independent products at once, as a linear layer's backward has (dinp, and dweight as two halves
    /// of its reduction over BT, see <see cref="Matmul"/>): with two or more threads `first` splits over all of
    /// them and each half over half of them, and the threads claim the pieces in that order, so at two threads
    /// each runs half of dinp, then one half of dweight, and no row of the layer's activations is read by both
    /// (split by tiles, each thread of a product reads all of its other operand). The bits are those of three
    /// <see cref="Run"/> calls: every C tile is computed the same way.
    /// </summary>
    public static void RunThree(in Product first, in Product second, in Product third, int threads, Isa isa)
    {
        if (threads < 2 || isa == Isa.Scalar || first.Empty || second.Empty || third.Empty)
        {
            first.Run(threads, isa);
            second.Run(threads, isa);
            third.Run(threads, isa);
            return;
        }
        int share = threads / 2;
        var x = first.Plan(threads, isa, out int px);
        var y = second.Plan(share, isa, out int py);
        var z = third.Plan(share, isa, out int pz);
        KernelThreads.Run(px + py + pz, new ThreeJob(x, px, y, py, z, pz));
    }

    /// <summary>The arguments of one <see cref="Run"/> call without epilogue (see there).</summary>
    internal readonly struct Product(float* c, int ldc, float* a, int aRow, int aCol, float* b, int bRow, int bCol,
        int M, int N, int K, bool accumulate)
    {
        /// <summary>A product Run settles without tiles: nothing to compute, or only C to clear.</summary>
        public bool Empty => M == 0 || N == 0 || K == 0;

        public void Run(int threads, Isa isa) => Gemm.Run(c, ldc, a, aRow, aCol, b, bRow, bCol, M, N, K, accumulate, threads, isa);

        public TilesJob Plan(int threads, Isa isa, out int pieces) =>
            Gemm.Plan(c, ldc, a, aRow, aCol, b, bRow, bCol, M, N, K, accumulate, threads, isa, Epilogue.None, null, out pieces);
    }

    /// <summary>Pieces [0, px) are x's, the next py are y's and the last pz are z's.</summary>
    private readonly struct ThreeJob(TilesJob x, int px, TilesJob y, int py, TilesJob z, int pz) : IPieceJob
    {
        public void Run(int piece, int pieces)
        {
            if (piece < px) x.Run(piece, px);
            else if (piece < px + py) y.Run(piece - px, py);
            else z.Run(piece - px - py, pz);
        }
    }

    /// <summary>How a product with tiles splits over `threads`: the job and its number of pieces (1: run it serially).</summary>
    private static TilesJob Plan(float* c, int ldc, float* a, int aRow, int aCol, float* b, int bRow, int bCol,
        int M, int N, int K, bool accumulate, int threads, Isa isa, Epilogue epilogue, float* e, out int pieces)
    {
        int mr = isa == Isa.V512 ? 8 : 6, nr = isa == Isa.V512 ? 32 : 16;
        int mTiles = (M + mr - 1) / mr, nStrips = (N + nr - 1) / nr;
        // Below ~2 MFLOP a second thread costs more to wake than it saves.
        if ((long)M * N * K < (1L << 20)) threads = 1;
        // Split the larger tile count; each thread owns whole C tiles, so no reduction is shared.
        bool splitM = mTiles >= nStrips;
        int units = splitM ? mTiles : nStrips;
        pieces = Math.Clamp(threads, 1, units);
        return new TilesJob(isa, mr, nr, (nint)c, ldc, (nint)a, aRow, aCol, (nint)b, bRow, bCol, M, N, K, accumulate, units,
            splitM, epilogue, (nint)e);
    }

    internal readonly struct TilesJob(Isa isa, int mr, int nr, nint c, int ldc, nint a, int aRow, int aCol, nint b, int bRow,
        int bCol, int M, int N, int K, bool accumulate, int units, bool splitM, Epilogue epilogue, nint e) : IPieceJob
    {
        public void Run(int t, int threads)
        {
            var (u0, u1) = KernelThreads.Range(units, t, threads);
            int m0 = 0, m1 = M, n0 = 0, n1 = N;
            if (splitM) { m0 = u0 * mr; m1 = Math.Min(M, u1 * mr); }
            else { n0 = u0 * nr; n1 = Math.Min(N, u1 * nr); }
            Serial(isa, mr, nr, (float*)c, ldc, (float*)a, aRow, aCol, (float*)b, bRow, bCol, M, m0, m1, n0, n1, K, accumulate,
                epilogue, (float*)e);
        }
    }

    /// <summary>The epilogue on rows x cols of c and e (stride ldc): 16 lanes at a time on AVX-512, scalar elsewhere and in a row's tail.</summary>
    private static void ApplyEpilogue(Epilogue epilogue, float* c, float* e, int ldc, int rows, int cols, Isa isa)
    {
        Debug.Assert(epilogue == Epilogue.Add);
        for (int i = 0; i < rows; i++)
        {
            float* cr = c + (nint)i * ldc, er = e + (nint)i * ldc;
            int j = 0;
            if (isa == Isa.V512)
                for (; j + 16 <= cols; j += 16) (Vector512.Load(cr + j) + Vector512.Load(er + j)).Store(cr + j);
            for (; j < cols; j++) cr[j] = cr[j] + er[j];
        }
    }

    /// <summary>Per-thread packing buffers, allocated once per thread and reused by every call.</summary>
    private sealed class Buffers
    {
        public readonly float[] PackedB = GC.AllocateUninitializedArray<float>(KC * NC + 16, pinned: true);
        public readonly float[] PackedA = GC.AllocateUninitializedArray<float>(KC * 8 + 16, pinned: true);
        public readonly float[] Tile = GC.AllocateUninitializedArray<float>(8 * 32 + 16, pinned: true);

        [ThreadStatic] private static Buffers? _mine;
        public static Buffers Mine => _mine ??= new Buffers();

        /// <summary>First 64-byte aligned element: aligned loads never split a cache line.</summary>
        public static float* Aligned(float[] pinnedArray)
        {
            float* p = (float*)Unsafe.AsPointer(ref pinnedArray[0]);
            return (float*)(((nint)p + 63) & ~(nint)63);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Serial(Isa isa, int mr, int nr, float* c, int ldc, float* a, int aRow, int aCol,
        float* b, int bRow, int bCol, int M, int m0, int m1, int n0, int n1, int K, bool accumulate, Epilogue epilogue, float* e)
    {
        var buffers = Buffers.Mine;
        float* packedB = Buffers.Aligned(buffers.PackedB);
        float* packedA = Buffers.Aligned(buffers.PackedA);
        float* tile = Buffers.Aligned(buffers.Tile);
        // Every C element is the same FMA chain over k whatever the K block (a block stores C, the next
        // loads it back exactly), so the block size changes speed, never bits.
        int kcMax = aRow == 1 && aCol != 1 ? KcColumnMajorA : KC;
        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            int strips = (nc + nr - 1) / nr;
            for (int pc = 0; pc < K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, K - pc);
                // Later K blocks add onto what the earlier ones wrote.
                bool acc = accumulate || pc > 0;
                // A tall, short-row B that few rows of A reuse (dweight at small widths: B is all of inp)
                // is read in place, its rows being the strips' rows (nr floats every bRow): the kernel needs
                // only two B vectors per 16 FMAs, which L2 supplies, and a whole copying pass is saved.
                // A B that many rows reuse is packed, so that its strips stay in L1; long rows are packed
                // too, as a strip at a stride of 2 KiB or more falls into too few cache sets.
                // Only a partial last strip is packed in place mode.
                float* bBlock = b + (nint)pc * bRow + (nint)jc * bCol;
                bool direct = bCol == 1 && bRow <= DirectMaxStride && M <= DirectMaxRows;
                int fullStrips = nc / nr;
                if (!direct) PackB(packedB, bBlock, bRow, bCol, kc, nc, nr);
                else if (fullStrips < strips)
                    PackB(packedB, bBlock + fullStrips * nr, bRow, bCol, kc, nc - fullStrips * nr, nr);
                for (int ic = m0; ic < m1; ic += MC)
                {
                    int mc = Math.Min(MC, m1 - ic);
                    for (int s = 0; s < strips; s++)
                    {
                        bool inPlace = direct && s < fullStrips;
                        float* strip = inPlace ? bBlock + s * nr : direct ? packedB : packedB + (nint)s * kc * nr;
                        nint bs = inPlace ? bRow : nr;
                        int cols = Math.Min(nr, nc - s * nr);
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            float* aBlock = a + (nint)(ic + ir) * aRow + (nint)pc * aCol;
                            float* cBlock = c + (nint)(ic + ir) * ldc + jc + s * nr;
                            if (rows == mr && cols == nr)
                                Tile(isa, aBlock, aRow, aCol, strip, bs, kc, cBlock, ldc, acc, packedA);
                            else
                                EdgeTile(isa, mr, nr, aBlock, aRow, aCol, strip, bs, kc, cBlock, ldc, acc, rows, cols,
                                    packedA, tile);
                            if (epilogue != Epilogue.None && pc + kc == K)
                                ApplyEpilogue(epilogue, cBlock, e + (cBlock - c), ldc, rows, cols, isa);
                        }
                    }
                }
            }
        }
    }

    /// <summary>dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block (unpack, shuffle, then 128-bit lane swaps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, nint lds, float* dst, nint ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2 * lds); var r3 = Avx.LoadVector256(src + 3 * lds);
        var r4 = Avx.LoadVector256(src + 4 * lds); var r5 = Avx.LoadVector256(src + 5 * lds);
        var r6 = Avx.LoadVector256(src + 6 * lds); var r7 = Avx.LoadVector256(src + 7 * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>Packs B[0..kc, 0..nc] into NR-wide k-major strips: strip s holds B[k, s*NR + j] at k*NR + j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(float* dst, float* b, int bRow, int bCol, int kc, int nc, int nr)
    {
        for (int s = 0; s * nr < nc; s++)
        {
            int cols = Math.Min(nr, nc - s * nr);
            float* d = dst + (nint)s * kc * nr;
            float* src = b + (nint)s * nr * bCol;
            if (bCol == 1 && cols == nr && nr == 32)
            {
                // Two vector copies per row (a span copy per 128-byte row costs a call each).
                for (int k = 0; k < kc; k++)
                {
                    float* row = src + (nint)k * bRow, o = d + (nint)k * 32;
                    Vector512.Load(row).Store(o);
                    Vector512.Load(row + 16).Store(o + 16);
                }
            }
            else if (bCol == 1 && cols == nr)
            {
                for (int k = 0; k < kc; k++)
                    new ReadOnlySpan<float>(src + (nint)k * bRow, nr).CopyTo(new Span<float>(d + (nint)k * nr, nr));
            }
            else if (bCol == 1)
            {
                for (int k = 0; k < kc; k++)
                {
                    float* row = src + (nint)k * bRow, o = d + (nint)k * nr;
                    int j = 0;
                    for (; j < cols; j++) o[j] = row[j];
                    for (; j < nr; j++) o[j] = 0f;
                }
            }
            else
            {
                // B is stored transposed (N x K): walk each column contiguously, scatter into the strip.
                for (int j = 0; j < cols; j++)
                {
                    float* col = src + (nint)j * bCol;
                    for (int k = 0; k < kc; k++) d[(nint)k * nr + j] = col[(nint)k * bRow];
                }
                for (int j = cols; j < nr; j++)
                    for (int k = 0; k < kc; k++) d[(nint)k * nr + j] = 0f;
            }
        }
    }

    private static void Tile(Isa isa, float* a, int aRow, int aCol, float* strip, nint bs, int kc, float* c, int ldc,
        bool acc, float* packedA)
    {
        if (aCol == 1)
        {
            if (isa == Isa.V512) Kernel512Rows(a, aRow, strip, bs, kc, c, ldc, acc);
            else Kernel256Rows(a, aRow, strip, bs, kc, c, ldc, acc);
        }
        else if (aRow == 1)
        {
            if (isa == Isa.V512) Kernel512Cols(a, aCol, strip, bs, kc, c, ldc, acc);
            else Kernel256Cols(a, aCol, strip, bs, kc, c, ldc, acc);
        }
        else
        {
            int mr = isa == Isa.V512 ? 8 : 6;
            PackA(packedA, a, aRow, aCol, kc, mr, mr);
            if (isa == Isa.V512) Kernel512Cols(packedA, 8, strip, bs, kc, c, ldc, acc);
            else Kernel256Cols(packedA, 6, strip, bs, kc, c, ldc, acc);
        }
    }

    /// <summary>
    /// A partial tile (bottom rows or right columns): the missing A rows are packed as zeros and the
    /// product goes through a full-size scratch tile, with the same FMA sequence as a full tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EdgeTile(Isa isa, int mr, int nr, float* a, int aRow, int aCol, float* strip, nint bs, int kc,
        float* c, int ldc, bool acc, int rows, int cols, float* packedA, float* tile)
    {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
                tile[i * nr + j] = acc && i < rows && j < cols ? c[(nint)i * ldc + j] : 0f;
        PackA(packedA, a, aRow, aCol, kc, mr, rows);
        if (isa == Isa.V512) Kernel512Cols(packedA, mr, strip, bs, kc, tile, nr, true);
        else Kernel256Cols(packedA, mr, strip, bs, kc, tile, nr, true);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                c[(nint)i * ldc + j] = tile[i * nr + j];
    }

    /// <summary>Packs A[0..rows, 0..kc] k-major with mr rows per k (rows beyond `rows` are zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(float* dst, float* a, int aRow, int aCol, int kc, int mr, int rows)
    {
        for (int k = 0; k < kc; k++)
        {
            float* o = dst + (nint)k * mr;
            float* src = a + (nint)k * aCol;
            int i = 0;
            for (; i < rows; i++) o[i] = src[(nint)i * aRow];
            for (; i < mr; i++) o[i] = 0f;
        }
    }

    // 8 x 32 register tile: 16 zmm accumulators, 2 B vectors, 1 broadcast (of 32 registers).
    // B advances by bs floats per k: 32 for a packed strip, or the row stride of a padded matrix.
    // A is row-major: eight row pointers indexed by k.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel512Rows(float* a, nint lda, float* b, nint bs, int kc, float* c, nint ldc, bool acc)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda;
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (acc)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        for (nint k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            b += bs;
            Vector512<float> x = Vector512.Create(a0[k]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[k]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[k]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[k]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[k]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[k]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a6[k]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a7[k]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
        }
        Store512(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71);
    }

    // 8 x 16 tile for a last strip only 16 wide (attention's head size 16 or 48): the same loop as
    // Kernel512Rows with one B vector, so a half strip does not cost a full one.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel512Rows16(float* a, nint lda, float* b, nint bs, int kc, float* c, nint ldc, bool acc)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        float* a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> c4 = default, c5 = default, c6 = default, c7 = default;
        if (acc)
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + 2 * ldc); c3 = Vector512.Load(c + 3 * ldc);
            c4 = Vector512.Load(c + 4 * ldc); c5 = Vector512.Load(c + 5 * ldc); c6 = Vector512.Load(c + 6 * ldc); c7 = Vector512.Load(c + 7 * ldc);
        }
        for (nint k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            b += bs;
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[k]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[k]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[k]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[k]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[k]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[k]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[k]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[k]), b0, c7);
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    // Same tile, A column-major (or packed): the eight A values of step k are contiguous at a + k*ks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel512Cols(float* a, nint ks, float* b, nint bs, int kc, float* c, nint ldc, bool acc)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (acc)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            b += bs;
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            a += ks;
        }
        Store512(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, nint ldc,
        Vector512<float> c00, Vector512<float> c01, Vector512<float> c10, Vector512<float> c11,
        Vector512<float> c20, Vector512<float> c21, Vector512<float> c30, Vector512<float> c31,
        Vector512<float> c40, Vector512<float> c41, Vector512<float> c50, Vector512<float> c51,
        Vector512<float> c60, Vector512<float> c61, Vector512<float> c70, Vector512<float> c71)
    {
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    // AVX2 fallback, 6 x 16 tile: 12 ymm accumulators + 2 B + 1 broadcast fit the 16 ymm registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel256Rows(float* a, nint lda, float* b, nint bs, int kc, float* c, nint ldc, bool acc)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (acc)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = Vector256<float>.Zero;
            c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        }
        for (nint k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            b += bs;
            Vector256<float> x = Vector256.Create(a0[k]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[k]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[k]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[k]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[k]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[k]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        Store256(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel256Cols(float* a, nint ks, float* b, nint bs, int kc, float* c, nint ldc, bool acc)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (acc)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = Vector256<float>.Zero;
            c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        }
        for (int k = 0; k < kc; k++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            b += bs;
            Vector256<float> x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += ks;
        }
        Store256(c, ldc, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, nint ldc,
        Vector256<float> c00, Vector256<float> c01, Vector256<float> c10, Vector256<float> c11,
        Vector256<float> c20, Vector256<float> c21, Vector256<float> c30, Vector256<float> c31,
        Vector256<float> c40, Vector256<float> c41, Vector256<float> c50, Vector256<float> c51)
    {
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 8);
    }

    /// <summary>No SIMD at all: the same FMA chain per element, in plain loops.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scalar(float* c, int ldc, float* a, int aRow, int aCol, float* b, int bRow, int bCol,
        int M, int N, int K, bool accumulate)
    {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
            {
                float s = accumulate ? c[(nint)m * ldc + n] : 0f;
                for (int k = 0; k < K; k++)
                    s = MathF.FusedMultiplyAdd(a[(nint)m * aRow + (nint)k * aCol], b[(nint)k * bRow + (nint)n * bCol], s);
                c[(nint)m * ldc + n] = s;
            }
    }
}
