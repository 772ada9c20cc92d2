using ImageGpt.Host;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;
using ImageGpt.Nn.IO;

namespace ImageGpt.Host.Tests;

public sealed class FinetuneCommandTests : IDisposable
{
    private readonly EvalWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public void AFullRunAddsAClassifierAndWritesLoadableWeights()
    {
        string outPath = _ws.File("tuned.safetensors");
        var output = new StringWriter();
        var log = new StringWriter();
        Assert.Equal(0, FinetuneCommand.Run(_ws.Common("--out", outPath, "--epochs", "6", "--batch", "10", "--lr", "1e-2",
            "--patience", "100", "--train", "40", "--val", "10", "--test", "20"), output, log));
        Assert.Contains("fine-tune: val acc", output.ToString());
        Assert.Contains("starting from a zero classifier head", log.ToString());
        var tuned = SafeTensors.Load(outPath);
        Assert.Equal(10, tuned.Config.Classes);
        Assert.Equal("model.safetensors", SafeTensors.ReadMetadata(outPath)["finetuned_from"]);
        // Brightness encodes the class: fine-tuning beats the zero head (one class of ten right) and the
        // saved weights are the best point's, with a trained classifier.
        double best = double.Parse(SafeTensors.ReadMetadata(outPath)["finetune_val_acc"], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(best > 0.1, output.ToString() + log);
        Assert.Contains(tuned["clf"].ToArray(), v => v != 0f);
    }

    [Fact]
    public void AMissingWeightsFileExitsWithCode2()
    {
        string missing = _ws.File("none.safetensors");
        string[] args = ["--weights", missing, "--palette", _ws.Palette, "--data-dir", _ws.DataDir];
        Assert.Equal(2, Program.Main(["finetune", .. args]));
        var e = Assert.Throws<UserError>(() => FinetuneCommand.Run(args, TextWriter.Null, TextWriter.Null));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void ZeroEpochsIsAUserError()
    {
        var e = Assert.Throws<UserError>(() => FinetuneCommand.Run(_ws.Common("--epochs", "0"), TextWriter.Null, TextWriter.Null));
        Assert.Contains("--epochs", e.Message);
    }
}
