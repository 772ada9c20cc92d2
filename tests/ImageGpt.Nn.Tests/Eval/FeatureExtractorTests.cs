using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests.Eval;

public sealed class FeatureExtractorTests
{
    [Fact]
    public void BatchedFeaturesEqualOneForwardPassPerImage()
    {
        var config = EvalFixtures.Config();
        var set = EvalFixtures.TwoClass(7, 4, seed: 3);
        var tokens = TokenSet.Encode(set, EvalFixtures.Gray(set));
        var batched = FeatureExtractor.Extract(EvalFixtures.Model(config, 3), tokens, batch: 3);
        var single = EvalFixtures.Model(config, 1);
        Assert.Equal(config.Layers + 1, batched.Length);
        int C = config.Width;
        for (int i = 0; i < tokens.Count; i++)
        {
            var f = new float[(config.Layers + 1) * C];
            single.ProbeFeatures(tokens.Sequence(i), f);
            for (int l = 0; l <= config.Layers; l++)
            {
                Assert.Equal(tokens.Labels[i], batched[l].Y[i]);
                for (int c = 0; c < C; c++)
                    Assert.Equal(f[l * C + c], batched[l].X[i * C + c], 1e-6f);
            }
        }
    }

    [Fact]
    public void TheLastLayerIsTheMeanOfLnFAndTheFirstTheMeanOfBlockZeroNorm()
    {
        // Oracle for l = 0 without the model's kernels: RMS-norm (gain 1) of SOS/wte + wpe, averaged over T.
        var config = EvalFixtures.Config();
        var set = EvalFixtures.TwoClass(2, 4, seed: 5);
        var tokens = TokenSet.Encode(set, EvalFixtures.Gray(set));
        var model = EvalFixtures.Model(config, 2);
        var features = FeatureExtractor.Extract(model, tokens, batch: 2);
        int C = config.Width, T = config.Seq;
        var p = model.Parameters;
        for (int i = 0; i < 2; i++)
        {
            var mean = new double[C];
            for (int t = 0; t < T; t++)
            {
                var emb = t == 0 ? p["sos"].ToArray() : p["wte"].Slice(tokens.Sequence(i)[t - 1] * C, C).ToArray();
                var x = new double[C];
                double ss = 0;
                for (int c = 0; c < C; c++) { x[c] = emb[c] + p["wpe"][t * C + c]; ss += x[c] * x[c]; }
                double r = 1 / Math.Sqrt(ss / C + 1e-5);
                for (int c = 0; c < C; c++) mean[c] += x[c] * r / T;
            }
            for (int c = 0; c < C; c++) Assert.Equal(mean[c], features[0].X[i * C + c], 1e-5);
        }
    }
}
