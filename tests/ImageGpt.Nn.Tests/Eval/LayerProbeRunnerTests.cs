using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;

namespace ImageGpt.Nn.Tests.Eval;

public sealed class LayerProbeRunnerTests
{
    [Fact]
    public void EveryLayerAndTheRawPixelsSeparateDarkFromBrightImages()
    {
        var config = EvalFixtures.Config();
        var train = EvalFixtures.TwoClass(40, 8, seed: 1);
        var splits = new DataSplits(train, EvalFixtures.TwoClass(20, 8, seed: 2), EvalFixtures.TwoClass(20, 8, seed: 3));
        var data = EvalData.Prepare(splits, config, EvalFixtures.Gray(train));
        Assert.Equal(4, data.Pixels.Train.Side);
        var model = EvalFixtures.Model(config, 8);
        var report = LayerProbeRunner.Run(model.Parameters, data, new LayerProbeOptions(Batch: 8, Grid: [0.1, 10]));
        Assert.Equal(config.Layers + 1, report.Table.Rows.Count);
        foreach (var row in report.Table.Rows)
        {
            Assert.True(row.ValidationAccuracy >= 0.95, $"layer {row.Layer}: val {row.ValidationAccuracy}");
            Assert.True(row.TestAccuracy >= 0.95, $"layer {row.Layer}: test {row.TestAccuracy}");
        }
        Assert.Equal(1.0, report.Baseline!.TestAccuracy);
        var text = report.Format();
        Assert.Contains("2 (ln_f)", text);
        Assert.Contains("raw-pixel baseline", text);
    }

    [Fact]
    public void SubsetsAreSeededAndTakeTheRequestedSizes()
    {
        var config = EvalFixtures.Config();
        var train = EvalFixtures.TwoClass(30, 4, seed: 1);
        var splits = new DataSplits(train, EvalFixtures.TwoClass(20, 4, seed: 2), EvalFixtures.TwoClass(20, 4, seed: 3));
        var palette = EvalFixtures.Gray(train);
        var a = EvalData.Prepare(splits, config, palette, new SubsetSizes(10, 5, 6), seed: 9);
        var b = EvalData.Prepare(splits, config, palette, new SubsetSizes(10, 5, 6), seed: 9);
        var c = EvalData.Prepare(splits, config, palette, new SubsetSizes(10, 5, 6), seed: 10);
        Assert.Equal((10, 5, 6), (a.Train.Count, a.Validation.Count, a.Test.Count));
        Assert.Equal(a.Train.Tokens, b.Train.Tokens);
        Assert.NotEqual(a.Train.Tokens, c.Train.Tokens);
    }
}
