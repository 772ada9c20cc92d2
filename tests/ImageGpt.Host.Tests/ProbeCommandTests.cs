using System.Buffers.Binary;
using ImageGpt.Host;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;
using PaletteT = ImageGpt.Nn.Palette.Palette;
using PaletteOptions = ImageGpt.Nn.Palette.PaletteOptions;

namespace ImageGpt.Host.Tests;

/// <summary>
/// A temp folder with tiny Fashion-MNIST-format IDX files (28x28, brightness by class), a palette
/// fitted on them and a random-init checkpoint (L2 d16, side 4), as a training run would leave them.
/// </summary>
internal sealed class EvalWorkspace : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("eval-command-").FullName;
    public string DataDir => Path.Combine(Dir, "data");
    public string Weights => Path.Combine(Dir, "model.safetensors");
    public string Palette => Path.Combine(Dir, "palette.json");

    public EvalWorkspace(int vocab = 8, int classes = 0)
    {
        Directory.CreateDirectory(DataDir);
        var (trainPixels, trainLabels) = Images(60, seed: 1);
        var (testPixels, testLabels) = Images(20, seed: 2);
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, "train-images-idx3-ubyte"), IdxImages(trainPixels, 60));
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, "train-labels-idx1-ubyte"), IdxLabels(trainLabels));
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, "t10k-images-idx3-ubyte"), IdxImages(testPixels, 20));
        System.IO.File.WriteAllBytes(Path.Combine(DataDir, "t10k-labels-idx1-ubyte"), IdxLabels(testLabels));
        var small = new DataSet("tiny", trainPixels, trainLabels.Select(b => (int)b).ToArray(), 28, 1, Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray()).Resize(4);
        PaletteT.Train(small.Images, 1, new PaletteOptions(vocab)).Save(Palette);
        var config = new GptConfig(2, 16, 2, vocab, 4, classes, Objective.Autoregressive, 3);
        var model = new Gpt(config, 1);
        model.Init();
        // A nonzero head so that sampling depends on the context, as after training.
        new SeededRandom(9).FillNormal(model.Parameters["head"], 0.3);
        SafeTensors.Save(Weights, model.Parameters);
    }

    public string File(string name) => Path.Combine(Dir, name);

    public string[] Common(params string[] more) =>
        ["--weights", Weights, "--palette", Palette, "--data-dir", DataDir, .. more];

    private static (byte[] Pixels, byte[] Labels) Images(int n, ulong seed)
    {
        var rng = new SeededRandom(seed);
        var pixels = new byte[n * 784];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 10);
            for (int p = 0; p < 784; p++) pixels[i * 784 + p] = (byte)Math.Min(255, labels[i] * 25 + rng.NextInt(30));
        }
        return (pixels, labels);
    }

    private static byte[] IdxImages(byte[] pixels, int n)
    {
        var b = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), n);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), 28);
        pixels.CopyTo(b, 16);
        return b;
    }

    private static byte[] IdxLabels(byte[] labels)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        labels.CopyTo(b, 8);
        return b;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

public sealed class ProbeCommandTests : IDisposable
{
    private readonly EvalWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public void AMissingWeightsFileExitsWithCode2AndTheErrorNamesIt()
    {
        string missing = _ws.File("missing.safetensors");
        string[] args = ["--weights", missing, "--palette", _ws.Palette, "--data-dir", _ws.DataDir];
        Assert.Equal(2, Program.Main(["probe", .. args]));
        var e = Assert.Throws<UserError>(() => ProbeCommand.Run(args, TextWriter.Null, TextWriter.Null));
        Assert.Contains(missing, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void APaletteOfAnotherSizeIsRefusedNamingBothFiles()
    {
        string palette = _ws.File("p16.json");
        PaletteT.Train(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 1, new PaletteOptions(16)).Save(palette);
        string[] args = ["--weights", _ws.Weights, "--palette", palette, "--data-dir", _ws.DataDir];
        Assert.Equal(2, Program.Main(["probe", .. args]));
        var e = Assert.Throws<UserError>(() => ProbeCommand.Run(args, TextWriter.Null, TextWriter.Null));
        Assert.StartsWith($"checkpoint {_ws.Weights} has vocabulary 8 but palette {palette} has 16 colours. HINT:", e.Message);
    }

    [Fact]
    public void AFullRunPrintsOneRowPerLayerAndTheRawPixelBaseline()
    {
        var output = new StringWriter();
        var log = new StringWriter();
        Assert.Equal(0, ProbeCommand.Run(_ws.Common("--train", "40", "--val", "6", "--test", "20", "--batch", "16"), output, log));
        var lines = output.ToString().Split('\n');
        Assert.Matches(@"^validation loss: \d+\.\d{4} nats/token \(\d+\.\d{4} bits/token\) over 6 images", lines[0]);
        Assert.Equal("linear probe on subsets: 40 train, 6 validation, 20 test images (not comparable with a full-data probe)", lines[1]);
        Assert.StartsWith("layer", lines[2]);
        Assert.StartsWith("0 ", lines[3]);
        Assert.StartsWith("1 ", lines[4]);
        Assert.StartsWith("2 (ln_f)", lines[5]);
        Assert.Contains(lines, l => l.StartsWith("raw-pixel baseline", StringComparison.Ordinal));
        // Brightness encodes the class (chance is 10%): the raw pixels at 4x4 classify the test images almost perfectly.
        var baseline = lines.Single(l => l.StartsWith("raw-pixel baseline", StringComparison.Ordinal));
        var testAcc = double.Parse(baseline[(baseline.IndexOf("test ", StringComparison.Ordinal) + 5)..baseline.IndexOf('%', baseline.IndexOf("test ", StringComparison.Ordinal))], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(testAcc >= 80, baseline);
        Assert.Contains("[probe] features of train: 40 images", log.ToString());
    }

    [Fact]
    public void AnUnknownOptionIsRejected()
    {
        var e = Assert.Throws<UserError>(() => ProbeCommand.Run(_ws.Common("--layers", "3"), TextWriter.Null, TextWriter.Null));
        Assert.Contains("--layers", e.Message);
    }

    [Fact]
    public void Results_accumulate_in_a_csv_that_chart_turns_into_pictures_and_a_table()
    {
        string csv = _ws.File("study.csv");
        string step7 = _ws.File("step-7.safetensors");
        File.Copy(_ws.Weights, step7);
        string[] sizes = ["--train", "40", "--val", "6", "--test", "20", "--batch", "16", "--label", "tiny"];
        var output = new StringWriter();
        Assert.Equal(0, ProbeCommand.Run(_ws.Common([.. sizes, "--results", csv]), output, TextWriter.Null));
        Assert.Contains($"results appended to {csv}", output.ToString());
        Assert.Equal(0, ProbeCommand.Run(["--weights", step7, "--palette", _ws.Palette, "--data-dir", _ws.DataDir, .. sizes, "--results", csv, "--no-baseline"],
            TextWriter.Null, TextWriter.Null));

        var rows = ProbeResultsFile.Read(csv);
        // 3 layers and the raw pixels, then 3 layers of step 7 without a baseline.
        Assert.Equal(7, rows.Count);
        Assert.Equal(["0", "1", "2 (ln_f)", ProbeResultsFile.RawPixels, "0", "1", "2 (ln_f)"], rows.Select(r => r.Layer));
        Assert.All(rows, r => Assert.Equal(("tiny", "40/6/20"), (r.Label, r.Sizes)));
        Assert.Equal([null, null, null, null, 7L, 7L, 7L], rows.Select(r => r.Step));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.ValidationBits) && r.ValidationBits > 0));

        string outDir = _ws.File("charts");
        var charts = new StringWriter();
        Assert.Equal(0, ChartCommand.Run(["--results", csv, "--out", outDir], charts));
        string fig3 = File.ReadAllText(Path.Combine(outDir, "probe-tiny.svg"));
        // One line per checkpoint and the raw pixels of the same probe sizes, for the checkpoint that had none of its own.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(fig3, "data-name=\"step \\d+\" data-points=\"3\"").Count);
        Assert.Contains("data-name=\"raw pixels\"", fig3);
        string fig2 = File.ReadAllText(Path.Combine(outDir, "validation-vs-probe.svg"));
        Assert.Contains("data-name=\"tiny\" data-points=\"2\"", fig2);
        string table = charts.ToString();
        Assert.Contains("| tiny | 7 | 40/6/20 |", table);
        Assert.Equal(2, table.Split('\n').Count(l => l.StartsWith("| tiny |", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_results_file_of_another_kind_and_a_label_with_a_comma_are_refused()
    {
        string other = _ws.File("other.csv");
        File.WriteAllText(other, "step,loss\n1,2\n");
        var e = Assert.Throws<UserError>(() => ProbeCommand.Run(_ws.Common("--train", "40", "--val", "6", "--test", "20", "--no-baseline", "--results", other), TextWriter.Null, TextWriter.Null));
        Assert.StartsWith($"{other} is not a probe results file", e.Message);
        Assert.Equal("step,loss\n1,2\n", File.ReadAllText(other));
        e = Assert.Throws<UserError>(() => ProbeCommand.Run(_ws.Common("--train", "40", "--val", "6", "--test", "20", "--no-baseline", "--results", _ws.File("new.csv"), "--label", "a,b"), TextWriter.Null, TextWriter.Null));
        Assert.Contains("'a,b' holds a comma", e.Message);
        // Checked before any work: the missing weights file is not reached.
        e = Assert.Throws<UserError>(() => ProbeCommand.Run(["--weights", _ws.File("missing.safetensors"), "--palette", _ws.Palette, "--results", _ws.File("new.csv"), "--label", "a,b"], TextWriter.Null, TextWriter.Null));
        Assert.Contains("'a,b' holds a comma", e.Message);
        e = Assert.Throws<UserError>(() => ChartCommand.Run(["--results", other], TextWriter.Null));
        Assert.StartsWith($"{other}:1: not a probe results file", e.Message);
        Assert.Equal(2, Program.Main(["chart", "--results", _ws.File("missing.csv")]));
    }
}
