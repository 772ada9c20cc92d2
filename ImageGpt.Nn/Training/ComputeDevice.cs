using System.Globalization;

namespace ImageGpt.Nn.Training;

/// <summary>
/// Where a trainer computes: "cpu", "cuda" (every GPU, one trainer each) or "cuda:N" (GPU N).
/// A value type with no libtorch in it, so configuration can be read and checked without loading libtorch.
/// </summary>
/// <param name="Cuda">False: the CPU.</param>
/// <param name="Index">The GPU for "cuda:N"; null for "cpu" and for "cuda" (all GPUs).</param>
public readonly record struct ComputeDevice(bool Cuda, int? Index)
{
    public static readonly ComputeDevice Cpu = new(false, null);

    public static bool TryParse(string text, out ComputeDevice device)
    {
        device = Cpu;
        if (text == "cpu") return true;
        if (text == "cuda") { device = new ComputeDevice(true, null); return true; }
        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            device = new ComputeDevice(true, index);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The single device trainer <paramref name="trainer"/> uses: "cpu", "cuda:N", or for "cuda" GPU
    /// trainer mod <paramref name="cudaDevices"/> (one trainer per GPU when there are as many trainers as GPUs).
    /// </summary>
    public ComputeDevice ForTrainer(int trainer, int cudaDevices)
    {
        if (!Cuda || Index is not null) return this;
        if (cudaDevices < 1) throw new ArgumentOutOfRangeException(nameof(cudaDevices), "no CUDA device to assign");
        return new ComputeDevice(true, trainer % cudaDevices);
    }

    /// <summary>
    /// Why this device cannot be used where libtorch sees <paramref name="cudaDevices"/> GPUs, as
    /// (what was found, the fix); null when it can.
    /// </summary>
    public (string Found, string Hint)? Problem(int cudaDevices)
    {
        if (!Cuda) return null;
        if (cudaDevices == 0)
            return ("finds no CUDA device (torch.cuda.is_available() = false: no NVIDIA driver, or the CPU build of libtorch)",
                    "set runtime.device = cpu, or build on a machine with an NVIDIA GPU with -p:TorchPackage=cuda (README, \"The torch backend\")");
        if (Index is { } i && i >= cudaDevices)
            return (string.Create(CultureInfo.InvariantCulture, $"finds {cudaDevices} CUDA device{(cudaDevices == 1 ? "" : "s")} (cuda:0..cuda:{cudaDevices - 1})"),
                    string.Create(CultureInfo.InvariantCulture, $"set runtime.device = cuda (one trainer per GPU) or cuda:N with N < {cudaDevices}"));
        return null;
    }

    public override string ToString() => !Cuda ? "cpu" : Index is { } i ? string.Create(CultureInfo.InvariantCulture, $"cuda:{i}") : "cuda";
}
