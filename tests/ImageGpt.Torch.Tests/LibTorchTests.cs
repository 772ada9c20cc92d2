using ImageGpt.Nn.Torch;

namespace ImageGpt.Torch.Tests;

/// <summary>Loading libtorch: a failure is one line that names its cause; here it loads and runs.</summary>
public sealed class LibTorchTests
{
    /// <summary>What .NET reports for TorchSharp 0.107's unpatched libLibTorchSharp.so on Debian 12 (captured here, shortened).</summary>
    private const string GlibcxxFailure =
        "Unable to load shared library 'LibTorchSharp' or one of its dependencies. In order to help diagnose loading problems, consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
        "/app/runtimes/linux-x64/native/LibTorchSharp.so: cannot open shared object file: No such file or directory\n" +
        "/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/runtimes/linux-x64/native/libLibTorchSharp.so)\n" +
        "/app/libLibTorchSharp.so: cannot open shared object file: No such file or directory\n";

    private const string Missing =
        "Unable to load shared library 'LibTorchSharp' or one of its dependencies. In order to help diagnose loading problems, consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
        "/app/LibTorchSharp.so: cannot open shared object file: No such file or directory\n" +
        "/app/libLibTorchSharp.so: cannot open shared object file: No such file or directory\n";

    [Fact]
    public void A_missing_symbol_version_names_the_library_the_version_and_the_fix()
    {
        string line = LibTorch.LoadFailure(GlibcxxFailure, "/app/");
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("libtorch did not load: libLibTorchSharp.so needs GLIBCXX_3.4.32, which this system's /lib/x86_64-linux-gnu/libstdc++.so.6 lacks", line);
        Assert.Contains("HINT:", line);
        Assert.Contains("tools/libtorch/LibTorchNative.targets", line);
    }

    [Fact]
    public void Libraries_that_are_not_there_say_which_program_lacks_libtorch()
    {
        string line = LibTorch.LoadFailure(Missing, "/app/");
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("libtorch is not in this program's folder (/app/)", line);
        Assert.Contains("HINT:", line);
    }

    [Fact]
    public void Anything_else_keeps_the_loader_s_first_line()
    {
        string line = LibTorch.LoadFailure("something odd\nmore", "/app/");
        Assert.Equal("libtorch did not load: something odd. HINT: see README, \"The torch backend\"", line);
    }

    [Fact]
    public void Here_libtorch_loads_runs_on_the_cpu_and_finds_no_gpu()
    {
        LibTorch.EnsureLoaded();
        Assert.StartsWith("2.10.0", LibTorch.Version);
        Assert.Equal(0, LibTorch.CudaDevices());
        using var x = TorchSharp.torch.arange(5f);
        Assert.Equal(10f, x.sum().item<float>());
    }
}
