using ImageGpt.Host.Commands;
using ImageGpt.Nn;

namespace ImageGpt.Host.Tests;

/// <summary>
/// This test project carries TorchSharp's managed assembly but not libtorch (ImageGpt.Host keeps it to itself):
/// asking for the torch backend here is the "libtorch cannot load" case, and must be one line, not TorchSharp's
/// fallback that copies libtorch out of the NuGet cache next to the program.
/// </summary>
public sealed class TorchWithoutLibtorchTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-nolibtorch-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task The_torch_backend_without_libtorch_is_a_one_line_error_and_nothing_is_copied()
    {
        var e = await Assert.ThrowsAsync<UserError>(() => TrainCommand.RunAsync(
            ["--run-dir", Path.Combine(_root, "run"), "--set", "runtime.backend=torch"], new StringWriter(), interactive: false));
        Assert.StartsWith("libtorch is not in this program's folder", e.Message);
        Assert.Contains("HINT:", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "cpu")), "TorchSharp's fallback loader ran");
        Assert.False(Directory.Exists(Path.Combine(_root, "run")), "a refused run must not create its directory");
    }
}
