using ImageGpt.Host;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;

namespace ImageGpt.Host.Tests;

public sealed class SampleCommandTests : IDisposable
{
    private readonly EvalWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public void AFullRunWritesAPngGridOfOneRowPerImage()
    {
        string png = _ws.File("grid.png");
        var output = new StringWriter();
        Assert.Equal(0, SampleCommand.Run(_ws.Common("--out", png, "--images", "3", "--completions", "2", "--seed", "4"), output, TextWriter.Null));
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        // IHDR: 4 columns (original, masked, 2 completions) of 4x4 images scaled 4x, 2 px separators.
        int width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        int height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        Assert.Equal((4 * 16 + 5 * 2, 3 * 16 + 4 * 2), (width, height));
        Assert.Contains("3 rows", output.ToString());
    }

    [Fact]
    public void AMissingPaletteExitsWithCode2AndTheErrorNamesIt()
    {
        string missing = _ws.File("nope.json");
        string[] args = ["--weights", _ws.Weights, "--palette", missing, "--out", _ws.File("g.png")];
        Assert.Equal(2, Program.Main(["sample", .. args]));
        var e = Assert.Throws<UserError>(() => SampleCommand.Run(args, TextWriter.Null, TextWriter.Null));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void ANonPositiveTemperatureIsAUserError()
    {
        Assert.Throws<UserError>(() => SampleCommand.Run(_ws.Common("--out", _ws.File("g.png"), "--temperature", "0"), TextWriter.Null, TextWriter.Null));
    }
}
