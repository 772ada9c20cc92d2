using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// Backward against finite differences of Forward on a tiny model, independent of PyTorch. In float32
/// single coordinates are too noisy (the loss has ~1e-7 relative resolution), so for every parameter
/// tensor we check the directional derivative along a random unit direction d:
/// (L(p + εd) − L(p − εd)) / 2ε ≈ ∇L·d, with ε = 1e-2 (error O(ε²) from curvature, far above float noise).
/// Tolerance: 2% of max(|∇L·d|, 1e-3), plus the same check for a few single coordinates with the largest gradients.
/// </summary>
public sealed class GradCheckTests
{
    private static (Gpt Model, int[] Tokens, int[] Labels, byte[] Mask) Tiny(Objective objective, bool classifier)
    {
        var config = new GptConfig(2, 8, 2, 5, 3, classifier ? 3 : 0, objective, 42);
        var model = new Gpt(config, 2);
        var rng = new SeededRandom(7);
        // Random weights everywhere (the paper init zeroes the head, which would hide most gradients).
        foreach (var slot in model.Parameters.Slots)
        {
            rng.FillNormal(model.Parameters.Span(slot), 0.3);
            if (slot.Name.EndsWith(".g", StringComparison.Ordinal))
                foreach (ref float g in model.Parameters.Span(slot)) g += 1f;
        }
        int T = config.Seq;
        int[] tokens = Enumerable.Range(0, 2 * T).Select(_ => rng.NextInt(5)).ToArray();
        int[] labels = classifier ? [1, 2] : [];
        byte[] mask = objective == Objective.Bert ? Enumerable.Range(0, 2 * T).Select(i => (byte)(i % 3 == 0 ? 1 : 0)).ToArray() : [];
        return (model, tokens, labels, mask);
    }

    [Theory]
    [InlineData(Objective.Autoregressive, false)]
    [InlineData(Objective.Bert, false)]
    [InlineData(Objective.Autoregressive, true)]
    [InlineData(Objective.Bert, true)]
    public void Backward_matches_central_differences_for_every_parameter_tensor(Objective objective, bool classifier)
    {
        var (model, tokens, labels, mask) = Tiny(objective, classifier);
        model.ZeroGrad();
        model.Forward(tokens, labels, mask);
        model.Backward();
        var rng = new SeededRandom(99);
        const float eps = 1e-2f;
        var p = model.Parameters;
        foreach (var slot in p.Slots)
        {
            if (objective == Objective.Bert && slot.Name == "sos") continue; // unused by Bert: checked below
            var w = p.Span(slot).ToArray();
            var d = new float[w.Length];
            rng.FillNormal(d, 1.0);
            float norm = MathF.Sqrt(d.Sum(x => x * x));
            for (int i = 0; i < d.Length; i++) d[i] /= norm;

            double analytic = 0;
            var g = model.Gradients.Span(slot);
            for (int i = 0; i < d.Length; i++) analytic += (double)g[i] * d[i];

            for (int i = 0; i < w.Length; i++) p.Span(slot)[i] = w[i] + eps * d[i];
            double plus = model.Forward(tokens, labels, mask);
            for (int i = 0; i < w.Length; i++) p.Span(slot)[i] = w[i] - eps * d[i];
            double minus = model.Forward(tokens, labels, mask);
            w.CopyTo(p.Span(slot));
            double numeric = (plus - minus) / (2 * eps);

            double tol = 0.02 * Math.Max(Math.Abs(analytic), 1e-3);
            Assert.True(Math.Abs(numeric - analytic) <= tol,
                $"{slot.Name}: finite difference {numeric:E4} vs backward {analytic:E4}");
        }
        if (objective == Objective.Bert)
            Assert.All(model.Gradients["sos"].ToArray(), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Largest_single_gradient_coordinates_match_central_differences()
    {
        var (model, tokens, labels, mask) = Tiny(Objective.Autoregressive, true);
        model.ZeroGrad();
        model.Forward(tokens, labels, mask);
        model.Backward();
        var grads = model.Gradients.Data;
        var top = Enumerable.Range(0, grads.Length).OrderByDescending(i => Math.Abs(grads[i])).Take(8).ToArray();
        const float eps = 1e-2f;
        foreach (int i in top)
        {
            float w = model.Parameters.Data[i];
            model.Parameters.Data[i] = w + eps;
            double plus = model.Forward(tokens, labels, mask);
            model.Parameters.Data[i] = w - eps;
            double minus = model.Forward(tokens, labels, mask);
            model.Parameters.Data[i] = w;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - grads[i]) <= 0.02 * Math.Abs(grads[i]),
                $"parameter #{i}: finite difference {numeric:E4} vs backward {grads[i]:E4}");
        }
    }
}
