using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests.Eval;

public sealed class FineTunerTests
{
    private static (TokenSet Train, TokenSet Val, TokenSet Test) Data(GptConfig config)
    {
        var train = EvalFixtures.TwoClass(32, 4, seed: 1);
        var palette = EvalFixtures.Gray(train);
        return (EvalData.Tokens(train, config, palette),
                EvalData.Tokens(EvalFixtures.TwoClass(16, 4, seed: 2), config, palette),
                EvalData.Tokens(EvalFixtures.TwoClass(16, 4, seed: 3), config, palette));
    }

    private static ParameterSlab Fresh(GptConfig config) => EvalFixtures.Model(config, 1).Parameters;

    [Fact]
    public void FineTuningRaisesValidationAccuracyOnAnEasyTask()
    {
        var config = EvalFixtures.Config(classes: 2);
        var (train, val, test) = Data(config);
        var p = Fresh(config);
        var r = FineTuner.Run(p, train, val, test, new FineTuneOptions(Epochs: 4, Lr: 3e-3, Batch: 8, EvalEvery: 2, Patience: 100));
        // The zero head predicts class 0 for everything: half of the alternating labels.
        Assert.Equal(0.5, r.InitialValidationAccuracy);
        Assert.True(r.BestValidationAccuracy >= 0.9, $"best val {r.BestValidationAccuracy}");
        Assert.True(r.TestAccuracy >= 0.9, $"test {r.TestAccuracy}");
        Assert.Equal(r.BestValidationAccuracy, r.History.Max(h => h.ValidationAccuracy));
    }

    [Fact]
    public void EarlyStoppingRestoresTheParametersOfTheBestEvaluation()
    {
        var config = EvalFixtures.Config(classes: 2);
        var (train, val, test) = Data(config);
        // A large lr makes validation accuracy move up and down, so the best point is not the last.
        var options = new FineTuneOptions(Epochs: 6, Lr: 1e-2, Batch: 8, EvalEvery: 1, Patience: 4);
        var a = Fresh(config);
        var ra = FineTuner.Run(a, train, val, test, options);
        Assert.True(ra.BestStep > 0, "no improvement at all: " + string.Join(" ", ra.History.Select(h => h.ValidationAccuracy)));
        Assert.True(ra.Steps > ra.BestStep, $"stopped at the best step {ra.BestStep}: " + string.Join(" ", ra.History.Select(h => h.ValidationAccuracy)));
        Assert.Equal(a.Data, ra.BestParameters.Data);
        // The same run cut at the best step: the trajectory is deterministic, so its last parameters
        // are what the first run must have restored.
        var b = Fresh(config);
        var rb = FineTuner.Run(b, train, val, test, options with { MaxSteps = ra.BestStep, Patience = 1000 });
        Assert.Equal(ra.BestStep, rb.Steps);
        Assert.Equal(b.Data, a.Data);
        Assert.Equal(ra.BestValidationAccuracy, FineTuner.Accuracy(new Gpt(config, 4, a), val));
    }
}
