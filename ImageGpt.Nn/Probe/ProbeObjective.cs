using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Probe;

/// <summary>
/// The probe's objective (<see cref="LogisticRegression.ObjectiveAndGradient"/>, its naive twin) as blocked products:
/// the samples are regrouped once into chunks of <see cref="Rows"/> stored feature-major (d, Rows), so the logits of
/// four classes and the gradient of two features by four classes are register tiles of FMAs over eight samples, and
/// the softmax runs over whole rows of a chunk. The naive form spends its time in short per-sample calls (a full-data
/// probe of one layer took 100 s); this one does the same sums in fixed chunks added in chunk order, so its result
/// does not depend on the number of threads or their timing.
/// </summary>
internal sealed unsafe class ProbeObjective
{
    public const int Rows = 256;
    private const int KBlock = 4;

    private readonly double[] _x;     // chunk-major: chunk c holds x[c*Rows + i, j] at c*d*Rows + j*Rows + i; padding rows zero
    private readonly int[] _y;        // labels, -1 for padding rows
    private readonly int _n, _d, _k, _kp, _chunks;
    private readonly double[] _z;     // per chunk (Kp, Rows): logits, then softmax residuals
    private readonly double[] _grads; // per chunk (K, d + 1)
    private readonly double[] _losses;
    private readonly double[] _wp;    // (Kp, d + 1): the weights with zero rows for the padding classes
    private readonly Action<int> _chunk;

    public ProbeObjective(ReadOnlySpan<double> x, ReadOnlySpan<int> y, int d, int classes)
    {
        (_n, _d, _k) = (y.Length, d, classes);
        if (x.Length != (long)_n * d) throw new ArgumentException($"X has {x.Length} values for {_n} rows of {d}");
        _kp = (classes + KBlock - 1) / KBlock * KBlock;
        _chunks = (_n + Rows - 1) / Rows;
        _x = GC.AllocateUninitializedArray<double>(_chunks * d * Rows);
        _y = new int[_chunks * Rows];
        for (int c = 0; c < _chunks; c++)
        {
            var block = _x.AsSpan(c * d * Rows, d * Rows);
            block.Clear();
            for (int i = 0; i < Rows; i++)
            {
                int row = c * Rows + i;
                if (row >= _n) { _y[row] = -1; continue; }
                if ((uint)y[row] >= (uint)classes) throw new ArgumentException($"label {y[row]} outside 0..{classes - 1}");
                _y[row] = y[row];
                for (int j = 0; j < d; j++) block[j * Rows + i] = x[row * d + j];
            }
        }
        _z = new double[_chunks * _kp * Rows];
        _grads = new double[_chunks * classes * (d + 1)];
        _losses = new double[_chunks];
        _wp = new double[_kp * (d + 1)];
        _chunk = Chunk;
    }

    /// <summary>f = sum_i CE_i + ||W||^2/(2C) at packed w (K, d+1); its gradient into g.</summary>
    public double Evaluate(double C, ReadOnlySpan<double> w, Span<double> g)
    {
        int d = _d, K = _k;
        if (w.Length != K * (d + 1) || g.Length != w.Length) throw new ArgumentException("parameters have the wrong size");
        w.CopyTo(_wp);
        Parallel.For(0, _chunks, _chunk);
        g.Clear();
        double f = 0;
        for (int c = 0; c < _chunks; c++)
        {
            f += _losses[c];
            TensorPrimitives.Add(g, _grads.AsSpan(c * K * (d + 1), K * (d + 1)), g);
        }
        return LogisticRegression.AddL2(f, w, g, d, K, C);
    }

    private void Chunk(int c)
    {
        int d = _d, K = _k;
        fixed (double* xc = &_x[c * d * Rows], z = &_z[c * _kp * Rows], w = _wp, gr = &_grads[c * K * (d + 1)])
        {
            Logits(z, xc, w, d);
            _losses[c] = SoftmaxResiduals(z, _y.AsSpan(c * Rows, Rows));
            Gradient(gr, z, xc, d);
        }
    }

    // z (Kp, Rows) = W (Kp, d) · x (d, Rows) + b: tiles of 4 classes x 8 samples
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Logits(double* z, double* xc, double* w, int d)
    {
        int ld = d + 1;
        for (int k0 = 0; k0 < _kp; k0 += KBlock)
        {
            double* w0 = w + k0 * ld, w1 = w0 + ld, w2 = w1 + ld, w3 = w2 + ld;
            for (int i = 0; i < Rows; i += 8)
            {
                var a00 = Vector256.Create(w0[d]); var a01 = a00;
                var a10 = Vector256.Create(w1[d]); var a11 = a10;
                var a20 = Vector256.Create(w2[d]); var a21 = a20;
                var a30 = Vector256.Create(w3[d]); var a31 = a30;
                double* xp = xc + i;
                for (int j = 0; j < d; j++, xp += Rows)
                {
                    var x0 = Vector256.Load(xp);
                    var x1 = Vector256.Load(xp + 4);
                    var b0 = Vector256.Create(w0[j]); var b1 = Vector256.Create(w1[j]);
                    var b2 = Vector256.Create(w2[j]); var b3 = Vector256.Create(w3[j]);
                    a00 = Vector256.FusedMultiplyAdd(b0, x0, a00); a01 = Vector256.FusedMultiplyAdd(b0, x1, a01);
                    a10 = Vector256.FusedMultiplyAdd(b1, x0, a10); a11 = Vector256.FusedMultiplyAdd(b1, x1, a11);
                    a20 = Vector256.FusedMultiplyAdd(b2, x0, a20); a21 = Vector256.FusedMultiplyAdd(b2, x1, a21);
                    a30 = Vector256.FusedMultiplyAdd(b3, x0, a30); a31 = Vector256.FusedMultiplyAdd(b3, x1, a31);
                }
                double* zr = z + k0 * Rows + i;
                a00.Store(zr); a01.Store(zr + 4);
                a10.Store(zr + Rows); a11.Store(zr + Rows + 4);
                a20.Store(zr + 2 * Rows); a21.Store(zr + 2 * Rows + 4);
                a30.Store(zr + 3 * Rows); a31.Store(zr + 3 * Rows + 4);
            }
        }
    }

    // Rows k < K of z become softmax(z) − onehot(y) per sample, rows of padding classes and columns of padding
    // samples zero; returns the chunk's summed cross-entropy, logsumexp(z) − z_y computed from the shifted logits.
    private double SoftmaxResiduals(double* z, ReadOnlySpan<int> y)
    {
        int K = _k;
        Span<double> max = stackalloc double[Rows], sum = stackalloc double[Rows];
        Span<double> Row(int k) => new(z + k * Rows, Rows);
        Row(0).CopyTo(max);
        for (int k = 1; k < K; k++) TensorPrimitives.Max(max, Row(k), max);
        double loss = 0;
        for (int i = 0; i < Rows; i++)
            if (y[i] >= 0) loss -= z[y[i] * Rows + i] - max[i];
        sum.Clear();
        for (int k = 0; k < K; k++)
        {
            TensorPrimitives.Subtract(Row(k), max, Row(k));
            TensorPrimitives.Exp(Row(k), Row(k));
            TensorPrimitives.Add(sum, Row(k), sum);
        }
        for (int k = 0; k < K; k++) TensorPrimitives.Divide(Row(k), sum, Row(k));
        for (int k = K; k < _kp; k++) Row(k).Clear();
        for (int i = 0; i < Rows; i++)
        {
            if (y[i] >= 0)
            {
                loss += Math.Log(sum[i]);
                z[y[i] * Rows + i] -= 1;
            }
            else
                for (int k = 0; k < K; k++) z[k * Rows + i] = 0;
        }
        return loss;
    }

    // gr (K, d+1): gr[k, j] = Σ_i r[k, i] x[j, i], gr[k, d] = Σ_i r[k, i]: tiles of 2 features x 4 classes
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Gradient(double* gr, double* r, double* xc, int d)
    {
        int K = _k, ld = d + 1;
        for (int k0 = 0; k0 < _kp; k0 += KBlock)
        {
            double* r0 = r + k0 * Rows, r1 = r0 + Rows, r2 = r1 + Rows, r3 = r2 + Rows;
            int j = 0;
            for (; j + 2 <= d; j += 2)
            {
                double* x0p = xc + j * Rows, x1p = x0p + Rows;
                Vector256<double> a00 = default, a01 = default, a10 = default, a11 = default;
                Vector256<double> a20 = default, a21 = default, a30 = default, a31 = default;
                for (int i = 0; i < Rows; i += 4)
                {
                    var x0 = Vector256.Load(x0p + i); var x1 = Vector256.Load(x1p + i);
                    var q0 = Vector256.Load(r0 + i); var q1 = Vector256.Load(r1 + i);
                    var q2 = Vector256.Load(r2 + i); var q3 = Vector256.Load(r3 + i);
                    a00 = Vector256.FusedMultiplyAdd(q0, x0, a00); a01 = Vector256.FusedMultiplyAdd(q0, x1, a01);
                    a10 = Vector256.FusedMultiplyAdd(q1, x0, a10); a11 = Vector256.FusedMultiplyAdd(q1, x1, a11);
                    a20 = Vector256.FusedMultiplyAdd(q2, x0, a20); a21 = Vector256.FusedMultiplyAdd(q2, x1, a21);
                    a30 = Vector256.FusedMultiplyAdd(q3, x0, a30); a31 = Vector256.FusedMultiplyAdd(q3, x1, a31);
                }
                Put(gr, ld, K, k0, j, a00, a10, a20, a30);
                Put(gr, ld, K, k0, j + 1, a01, a11, a21, a31);
            }
            for (; j < d; j++)
            {
                double* xp = xc + j * Rows;
                Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int i = 0; i < Rows; i += 4)
                {
                    var x = Vector256.Load(xp + i);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r0 + i), x, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r1 + i), x, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(r2 + i), x, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(r3 + i), x, a3);
                }
                Put(gr, ld, K, k0, j, a0, a1, a2, a3);
            }
            for (int k = k0; k < Math.Min(K, k0 + KBlock); k++)
                gr[k * ld + d] = TensorPrimitives.Sum(new ReadOnlySpan<double>(r + k * Rows, Rows));
        }
    }

    private static void Put(double* gr, int ld, int K, int k0, int j, Vector256<double> a0, Vector256<double> a1, Vector256<double> a2, Vector256<double> a3)
    {
        gr[k0 * ld + j] = Vector256.Sum(a0);
        if (k0 + 1 < K) gr[(k0 + 1) * ld + j] = Vector256.Sum(a1);
        if (k0 + 2 < K) gr[(k0 + 2) * ld + j] = Vector256.Sum(a2);
        if (k0 + 3 < K) gr[(k0 + 3) * ld + j] = Vector256.Sum(a3);
    }
}
