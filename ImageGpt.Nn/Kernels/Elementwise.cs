using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ImageGpt.Nn.Kernels;

/// <summary>
/// Element-wise operations with the bits of their TensorPrimitives namesakes (one IEEE operation per element,
/// no fused multiply-add), written as plain vector loops for two reasons. On short rows (the embedding's 32-512
/// floats) TensorPrimitives' per-call dispatch costs as much as the work. On whole gradient slabs (0.4-1.6M
/// floats) its large-array path leaves the result outside the caches: TensorPrimitives.Multiply in place over
/// 410k floats, then a sum over them, took 0.27-0.44 ms against 0.12-0.15 ms for this loop (same process,
/// alternating), and Adam reads the slab right after.
/// </summary>
public static class Elementwise
{
    /// <summary>o = x + y (o may be x or y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> o)
    {
        int n = o.Length;
        if (x.Length != n || y.Length != n) throw new ArgumentException($"Elementwise.Add: lengths {x.Length}, {y.Length} and {n} differ");
        ref float xr = ref MemoryMarshal.GetReference(x), yr = ref MemoryMarshal.GetReference(y), or = ref MemoryMarshal.GetReference(o);
        int i = 0;
        for (; i + 16 <= n; i += 16)
            (Vector512.LoadUnsafe(ref xr, (nuint)i) + Vector512.LoadUnsafe(ref yr, (nuint)i)).StoreUnsafe(ref or, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref or, i) = Unsafe.Add(ref xr, i) + Unsafe.Add(ref yr, i);
    }

    /// <summary>x *= c.</summary>
    public static void Scale(Span<float> x, float c)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        var cv = Vector512.Create(c);
        int i = 0;
        for (; i + 16 <= x.Length; i += 16) (Vector512.LoadUnsafe(ref r, (nuint)i) * cv).StoreUnsafe(ref r, (nuint)i);
        for (; i < x.Length; i++) Unsafe.Add(ref r, i) *= c;
    }

    /// <summary>acc = x * w + acc, the product rounded before the add (TensorPrimitives.MultiplyAdd's order).</summary>
    public static void MultiplyAdd(ReadOnlySpan<float> x, float w, Span<float> acc)
    {
        int n = acc.Length;
        if (x.Length != n) throw new ArgumentException($"Elementwise.MultiplyAdd: lengths {x.Length} and {n} differ");
        ref float xr = ref MemoryMarshal.GetReference(x), ar = ref MemoryMarshal.GetReference(acc);
        var wv = Vector512.Create(w);
        int i = 0;
        for (; i + 16 <= n; i += 16)
            (Vector512.LoadUnsafe(ref xr, (nuint)i) * wv + Vector512.LoadUnsafe(ref ar, (nuint)i)).StoreUnsafe(ref ar, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref ar, i) = Unsafe.Add(ref xr, i) * w + Unsafe.Add(ref ar, i);
    }
}
