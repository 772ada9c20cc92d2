using ImageGpt.Nn.Eval;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Tests.Data;

namespace ImageGpt.Nn.Tests.Eval;

public sealed class EvalBundleTests
{
    [Fact]
    public void MissingFilesAreNamedInTheError()
    {
        using var dir = new TempDir();
        var palette = dir.File("p.json");
        EvalFixtures.Gray(EvalFixtures.TwoClass(4, 4, 1)).Save(palette);
        var e = Assert.Throws<UserError>(() => EvalBundle.Load(dir.File("w.safetensors"), palette));
        Assert.Contains("w.safetensors", e.Message);
        var weights = dir.File("w.safetensors");
        SafeTensors.Save(weights, EvalFixtures.Model(EvalFixtures.Config(), 1).Parameters);
        e = Assert.Throws<UserError>(() => EvalBundle.Load(weights, dir.File("nope.json")));
        Assert.Contains("nope.json", e.Message);
    }

    [Fact]
    public void APaletteOfAnotherSizeIsRejectedWithBothFileNames()
    {
        using var dir = new TempDir();
        var weights = dir.File("w.safetensors");
        SafeTensors.Save(weights, EvalFixtures.Model(EvalFixtures.Config(vocab: 16), 1).Parameters);
        var palette = dir.File("p.json");
        EvalFixtures.Gray(EvalFixtures.TwoClass(20, 4, 1), levels: 8).Save(palette);
        var e = Assert.Throws<UserError>(() => EvalBundle.Load(weights, palette));
        Assert.Equal($"checkpoint {weights} has vocabulary 16 but palette {palette} has 8 colours. HINT: use the palette file saved with the same training run as the weights", e.Message);
    }

    [Fact]
    public void ACheckpointWithoutClassifierGetsAZeroHeadAndKeepsEveryOtherTensor()
    {
        using var dir = new TempDir();
        var weights = dir.File("w.safetensors");
        var source = EvalFixtures.Model(EvalFixtures.Config(), 1).Parameters;
        SafeTensors.Save(weights, source);
        var palette = dir.File("p.json");
        EvalFixtures.Gray(EvalFixtures.TwoClass(20, 4, 1)).Save(palette);
        var bundle = EvalBundle.Load(weights, palette);
        var withHead = bundle.WithClassifier(3);
        Assert.Equal(3, withHead.Config.Classes);
        Assert.All(withHead["clf"].ToArray(), v => Assert.Equal(0f, v));
        foreach (var slot in source.Slots)
            Assert.Equal(source.Span(slot).ToArray(), withHead[slot.Name].ToArray());
    }

    [Fact]
    public void AClassifierOfTheRightSizeIsKept()
    {
        using var dir = new TempDir();
        var weights = dir.File("w.safetensors");
        var source = EvalFixtures.Model(EvalFixtures.Config(classes: 2), 1).Parameters;
        source["clf"].Fill(0.25f);
        SafeTensors.Save(weights, source);
        var palette = dir.File("p.json");
        EvalFixtures.Gray(EvalFixtures.TwoClass(20, 4, 1)).Save(palette);
        var bundle = EvalBundle.Load(weights, palette);
        Assert.Equal(source.Data, bundle.WithClassifier(2).Data);
        Assert.All(bundle.WithClassifier(5)["clf"].ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ACheckpointNamingClassesButHoldingNoClfTensorLoadsItsBodyForFineTuning()
    {
        using var dir = new TempDir();
        var weights = dir.File("w.safetensors");
        var source = EvalFixtures.Model(EvalFixtures.Config(), 1).Parameters;
        SafeTensors.Save(weights, source);
        // Same-length edit of the header: the metadata now claims 3 classes, the tensors stay without clf.
        var bytes = File.ReadAllBytes(weights);
        var text = System.Text.Encoding.Latin1.GetString(bytes);
        int at = text.IndexOf("\"classes\":\"0\"", StringComparison.Ordinal);
        Assert.True(at > 0);
        bytes[at + "\"classes\":\"".Length] = (byte)'3';
        File.WriteAllBytes(weights, bytes);
        Assert.Equal(3, SafeTensors.ReadConfig(weights).Classes);
        var palette = dir.File("p.json");
        EvalFixtures.Gray(EvalFixtures.TwoClass(20, 4, 1)).Save(palette);
        var bundle = EvalBundle.Load(weights, palette);
        Assert.Equal(0, bundle.Config.Classes);
        Assert.Equal(source.Data, bundle.Parameters.Data);
        var withHead = bundle.WithClassifier(3);
        Assert.All(withHead["clf"].ToArray(), v => Assert.Equal(0f, v));
    }
}
