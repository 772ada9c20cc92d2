using System.Numerics.Tensors;

namespace ImageGpt.Nn.Kernels;

/// <summary>Residual connection: out = a + b.</summary>
public static class Residual
{
    public static void Forward(Span<float> @out, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int N)
    {
        // a, b, out (N)
        TensorPrimitives.Add(a[..N], b[..N], @out[..N]);
    }

    public static void Backward(Span<float> da, Span<float> db, ReadOnlySpan<float> dout, int N)
    {
        // dout (N); da, db (N) accumulate
        // forward: out = a + b
        TensorPrimitives.Add(da[..N], dout[..N], da[..N]);
        TensorPrimitives.Add(db[..N], dout[..N], db[..N]);
    }

    public static void ForwardNaive(Span<float> @out, ReadOnlySpan<float> a, ReadOnlySpan<float> b, int N)
    {
        // a, b, out (N)
        for (int i = 0; i < N; i++) @out[i] = a[i] + b[i];
    }

    public static void BackwardNaive(Span<float> da, Span<float> db, ReadOnlySpan<float> dout, int N)
    {
        // dout (N); da, db (N) accumulate
        // forward: out = a + b
        for (int i = 0; i < N; i++)
        {
            da[i] += dout[i];
            db[i] += dout[i];
        }
    }
}
