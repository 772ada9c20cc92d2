using System.Text.Json;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using Xunit.Abstractions;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// The engine against PyTorch (tools/make_fixtures.py computes every reference value in float64 and
/// stores it as float32). Tolerances, stated once: logits, loss, classifier logits and features
/// max-abs 1e-5; each gradient max-abs 1e-5 · max|grad| of that tensor; step losses 1e-5; weights
/// after 5 Adam steps (schedule + clipping) max-abs 1e-4 (Adam divides by √v, which magnifies the
/// float32 rounding of small gradients, and the lr is 0.01, so 1e-4 is 1% of one step).
/// </summary>
public sealed class ModelFixtureTests(ITestOutputHelper output)
{
    private static Fixture LoadFixture(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", name + ".bin");
        Assert.True(File.Exists(path),
            $"fixture '{path}' is missing. HINT: the fixture branch commits tests/ImageGpt.Nn.Tests/Fixtures/{name}.bin " +
            "(regenerate with '/usr/bin/python3 tools/make_fixtures.py'); the csproj copies it to the output folder");
        return Fixture.Load(path);
    }

    private sealed record Case(Fixture F, Gpt Model, int[] Tokens, int[] Labels, byte[] Mask);

    private static Case Build(string name)
    {
        var f = LoadFixture(name);
        var j = f.Config;
        int Int(string key) => j.GetProperty(key).GetInt32();
        bool classifier = j.TryGetProperty("classifier", out var c) && c.GetBoolean();
        var objective = j.GetProperty("objective").GetString() == "bert" ? Objective.Bert : Objective.Autoregressive;
        var config = new GptConfig(Int("layers"), Int("width"), Int("heads"), Int("vocab"), Int("side"),
            classifier ? Int("classes") : 0, objective, 0);
        var model = new Gpt(config, Int("batch"));
        foreach (var slot in model.Parameters.Slots)
        {
            Assert.Equal(slot.Shape, f.Shape(slot.Name));
            f.Get(slot.Name).CopyTo(model.Parameters.Span(slot));
        }
        int[] tokens = f.Get("tokens").Select(x => (int)x).ToArray();
        int[] labels = classifier ? f.Get("labels").Select(x => (int)x).ToArray() : [];
        byte[] mask = f.Has("mask") ? f.Get("mask").Select(x => (byte)x).ToArray() : [];
        return new Case(f, model, tokens, labels, mask);
    }

    private void AssertClose(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected[i] - actual[i]);
            if (d > worst || double.IsNaN(d)) (worst, at) = (d, i);
        }
        output.WriteLine($"{what}: max abs diff {worst:E2} (tolerance {tolerance:E1})");
        Assert.True(worst <= tolerance, $"{what}: max abs diff {worst:E3} at [{at}] (expected {expected[at]}, got {actual[at]}) exceeds {tolerance:E1}");
    }

    private static double MaxAbs(ReadOnlySpan<float> x)
    {
        double m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    [Theory]
    [InlineData("ar")]
    [InlineData("bert")]
    [InlineData("clf")]
    public void Forward_matches_pytorch_logits_and_loss(string name)
    {
        var (f, model, tokens, labels, mask) = Build(name);
        float loss = model.Forward(tokens, labels, mask);
        AssertClose("logits", f.Get("logits"), model.Logits, 1e-5);
        AssertClose("loss", f.Get("loss"), [loss], 1e-5);
        if (f.Has("clf_logits"))
            AssertClose("clf_logits", f.Get("clf_logits"), model.ClfLogits, 1e-5);
    }

    [Theory]
    [InlineData("ar")]
    [InlineData("bert")]
    [InlineData("clf")]
    public void Backward_matches_every_pytorch_gradient(string name)
    {
        var (f, model, tokens, labels, mask) = Build(name);
        model.ZeroGrad();
        model.Forward(tokens, labels, mask);
        model.Backward();
        foreach (var slot in model.Gradients.Slots)
        {
            var expected = f.Get("grad." + slot.Name);
            double scale = Math.Max(MaxAbs(expected), 1e-30);
            AssertClose("grad." + slot.Name, expected, model.Gradients.Span(slot), 1e-5 * scale);
        }
    }

    [Fact]
    public void Probe_features_match_pytorch_for_every_layer()
    {
        var (f, model, tokens, _, _) = Build("ar");
        Assert.Equal([model.Config.Layers + 1, 3, model.Config.Width], f.Shape("features"));
        AssertClose("features", f.Get("features"), model.ProbeFeatures(tokens), 1e-5);
    }

    [Theory]
    [InlineData("ar")]
    [InlineData("bert")]
    [InlineData("clf")]
    public void Five_adam_steps_with_schedule_and_clipping_match_pytorch(string name)
    {
        var (f, model, tokens, labels, mask) = Build(name);
        var j = f.Config;
        double D(string key) => j.GetProperty(key).GetDouble();
        var schedule = new LrSchedule(D("lr"), j.GetProperty("warmup").GetInt32(), j.GetProperty("total_steps").GetInt32());
        var adam = new Adam(model.Parameters, (float)D("beta1"), (float)D("beta2"), (float)D("eps"), (float)D("weight_decay"));
        float clip = (float)D("clip");
        var norms = j.GetProperty("step_grad_norm").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var lrs = j.GetProperty("step_lr").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var losses = new float[5];
        for (int step = 0; step < 5; step++)
        {
            model.ZeroGrad();
            losses[step] = model.Forward(tokens, labels, mask);
            model.Backward();
            float norm = Adam.ClipGradNorm(model.Gradients.Data, clip);
            Assert.True(Math.Abs(norm - norms[step]) <= 1e-5 * norms[step], $"step {step}: grad norm {norm} vs pytorch {norms[step]}");
            Assert.True(Math.Abs(schedule.At(step) - lrs[step]) <= 1e-9, $"step {step}: lr {schedule.At(step)} vs pytorch {lrs[step]}");
            adam.Update(model.Gradients.Data, schedule.At(step));
        }
        AssertClose("step_loss", f.Get("step_loss"), losses, 1e-5);
        foreach (var slot in model.Parameters.Slots)
            AssertClose("final." + slot.Name, f.Get("final." + slot.Name), model.Parameters.Span(slot), 1e-4);
    }
}
