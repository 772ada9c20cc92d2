using System.Diagnostics;

namespace ImageGpt.Nn.Model;

/// <summary>
/// The kernel kinds a training step is split into by <see cref="KernelProfile"/>. The residual adds run in
/// the epilogues of the projections' products, so their time is the matmuls'.
/// </summary>
public enum KernelKind
{
    MatmulForward, MatmulBackward, AttentionForward, AttentionBackward, Norm, Gelu,
    Embedding, CrossEntropy, Adam, Clip, Other,
}

/// <summary>
/// Process-wide time per kernel kind for `imagegpt bench --profile`. Callers chain laps:
/// `long t = KernelProfile.Start(); Kernel(...); KernelProfile.Lap(ref t, KernelKind.X);` — each lap
/// charges the time since the previous one to its kind. Disabled (the default) it costs one branch
/// per kernel and allocates nothing; enabled it adds two Stopwatch reads. Not thread-safe: meant for
/// one model stepping at a time, the kernels' own worker threads are inside the laps.
/// </summary>
public static class KernelProfile
{
    private static readonly long[] Ticks = new long[Enum.GetValues<KernelKind>().Length];

    public static bool Enabled { get; set; }

    public static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    public static void Lap(ref long t, KernelKind kind)
    {
        if (!Enabled) return;
        long now = Stopwatch.GetTimestamp();
        Ticks[(int)kind] += now - t;
        t = now;
    }

    public static void Reset() => Array.Clear(Ticks);

    /// <summary>Accumulated milliseconds of one kind since the last <see cref="Reset"/>.</summary>
    public static double Milliseconds(KernelKind kind) => Ticks[(int)kind] * 1000.0 / Stopwatch.Frequency;
}
