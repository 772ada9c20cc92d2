using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using ImageGpt.Nn.Training;
using TorchSharp;

namespace ImageGpt.Nn.Torch;

/// <summary>
/// Loads libtorch once per process, and turns every way that can fail into one line that names the cause.
/// TorchSharp's own loader, when the regular load fails, copies 500 MB of libtorch from the NuGet cache
/// next to the program and prints a page of trace; we load TorchSharp's native shim first, the way it
/// would, and stop with a <see cref="UserError"/> before its fallback can run. So every member here loads
/// first: touching any member of TorchSharp's <c>torch</c> class runs that loader.
/// </summary>
public static partial class LibTorch
{
    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>The libtorch version TorchSharp was built against (e.g. 2.10.0.0).</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return torch.__version__;
        }
    }

    /// <summary>Loads libtorch's native libraries; throws a one-line <see cref="UserError"/> if they cannot load.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            try
            {
                NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);
            }
            catch (DllNotFoundException e)
            {
                throw new UserError(LoadFailure(e.Message, AppContext.BaseDirectory));
            }
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or InvalidOperationException)
            {
                throw new UserError($"libtorch did not initialise: {FirstLine(e.InnerException?.Message ?? e.Message)}. HINT: run the imagegpt that ImageGpt.Host builds (its folder holds libtorch)");
            }
            _loaded = true;
        }
    }

    /// <summary>
    /// The one-line error for a failed load of libLibTorchSharp, from the loader's message (dlerror text):
    /// a missing symbol version (Debian 12's libstdc++ stops at GLIBCXX_3.4.30), a library that is not there, or other.
    /// </summary>
    internal static string LoadFailure(string message, string folder)
    {
        var version = MissingVersion().Match(message);
        if (version.Success)
            return $"libtorch did not load: {Path.GetFileName(version.Groups["by"].Value)} needs {version.Groups["ver"].Value}, which this system's " +
                   $"{version.Groups["lib"].Value} lacks (its copy in {Path.GetDirectoryName(version.Groups["by"].Value)} was not patched). " +
                   "HINT: build with 'dotnet build' so the step in tools/libtorch/LibTorchNative.targets marks that need weak in the output copy " +
                   "(README, \"The torch backend\"), or install a libstdc++ from GCC 13 or newer";
        if (message.Contains("cannot open shared object file", StringComparison.Ordinal) || message.Contains("Unable to load", StringComparison.Ordinal))
            return $"libtorch is not in this program's folder ({folder}): runtime.backend = torch needs the native libtorch package. " +
                   "HINT: run the imagegpt that ImageGpt.Host builds (it references libtorch-cpu-linux-x64), or reference that package from this project";
        return $"libtorch did not load: {FirstLine(message)}. HINT: see README, \"The torch backend\"";
    }

    [GeneratedRegex(@"(?<lib>[^\s:]+): version `(?<ver>[^']+)' not found \(required by (?<by>[^)]+)\)")]
    private static partial Regex MissingVersion();

    private static string FirstLine(string s)
    {
        s = s.Trim();
        int nl = s.IndexOf('\n');
        return nl < 0 ? s : s[..nl].TrimEnd();
    }

    /// <summary>
    /// libtorch's intra-op threads for the calling thread (OpenMP keeps the setting per thread, so a trainer
    /// sets it on its own compute thread). Cheap when unchanged.
    /// </summary>
    public static void UseThreads(int threads)
    {
        EnsureLoaded();
        if (torch.get_num_threads() != threads) torch.set_num_threads(threads);
    }

    /// <summary>GPUs libtorch sees (0 with the CPU package or without a driver).</summary>
    public static int CudaDevices()
    {
        EnsureLoaded();
        return torch.cuda.is_available() ? torch.cuda.device_count() : 0;
    }

    /// <summary>
    /// Checks that <paramref name="device"/> exists here and returns libtorch's GPU count (0 for the CPU);
    /// a one-line <see cref="UserError"/> naming what was found otherwise.
    /// </summary>
    public static int CheckDevice(ComputeDevice device)
    {
        if (!device.Cuda) return 0;
        int count = CudaDevices();
        if (device.Problem(count) is var (found, hint))
            throw new UserError($"runtime.device = {device} but libtorch {Version} {found}. HINT: {hint}");
        return count;
    }

    /// <summary>The TorchSharp device of a resolved single device ("cpu" or "cuda:N").</summary>
    internal static torch.Device Device(ComputeDevice device)
    {
        EnsureLoaded();
        return device.Cuda ? new torch.Device(DeviceType.CUDA, device.Index ?? 0) : torch.CPU;
    }
}
