using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;

namespace ImageGpt.Nn.Tests;

/// <summary>Adam, clipping and the schedule against IGPT.md's formulas computed by hand in double.</summary>
public sealed class AdamTests
{
    private static ParameterSlab Slab()
    {
        var p = new ParameterSlab(new GptConfig(1, 4, 2, 3, 2, 0, Objective.Autoregressive, 0));
        for (int i = 0; i < p.Length; i++) p.Data[i] = 0.1f * (i % 7) - 0.3f;
        return p;
    }

    [Fact]
    public void Three_adam_steps_follow_the_spec_formula()
    {
        var p = Slab();
        var start = (float[])p.Data.Clone();
        var adam = new Adam(p);
        double[] m = new double[p.Length], v = new double[p.Length], expected = start.Select(x => (double)x).ToArray();
        var grads = new float[p.Length];
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < grads.Length; i++) grads[i] = MathF.Sin(i * 0.37f + t) * (i % 5 == 0 ? 1e-6f : 1f);
            double lr = 0.01 * t;
            adam.Update(grads, (float)lr);
            for (int i = 0; i < grads.Length; i++)
            {
                m[i] = 0.9 * m[i] + 0.1 * grads[i];
                v[i] = 0.95 * v[i] + 0.05 * grads[i] * (double)grads[i];
                expected[i] -= (float)lr * (m[i] / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(0.95, t))) + 1e-8);
            }
        }
        Assert.Equal(3, adam.Step);
        for (int i = 0; i < p.Length; i++)
            Assert.True(Math.Abs(expected[i] - p.Data[i]) <= 1e-6, $"[{i}]: expected {expected[i]}, got {p.Data[i]}");
    }

    [Theory]
    [InlineData(1, 1, 0f)]   // 19 parameters: one 16-lane vector and a tail of 3
    [InlineData(1, 2, 0.1f)] // 22 parameters (tail 6), with weight decay
    [InlineData(2, 3, 0f)]   // 82 parameters (tail 2)
    public void Adam_update_has_the_bits_of_the_scalar_float_loop_at_any_length(int width, int side, float weightDecay)
    {
        var p = new ParameterSlab(new GptConfig(1, width, 1, width, side, 0, Objective.Autoregressive, 0));
        for (int i = 0; i < p.Length; i++) p.Data[i] = MathF.Cos(i * 0.61f);
        var expected = (float[])p.Data.Clone();
        float[] m = new float[p.Length], v = new float[p.Length], grads = new float[p.Length];
        var adam = new Adam(p, weightDecay: weightDecay);
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < grads.Length; i++) grads[i] = MathF.Sin(i * 0.37f + t) * (i % 5 == 0 ? 1e-3f : 1f);
            float lr = 0.01f * t;
            adam.Update(grads, lr);
            // Adam.Update's scalar loop, operation for operation.
            float stepSize = (float)(lr / (1.0 - Math.Pow(0.9f, t))), bc2 = (float)Math.Sqrt(1.0 - Math.Pow(0.95f, t));
            for (int i = 0; i < grads.Length; i++)
            {
                float g = grads[i];
                if (weightDecay > 0f) expected[i] *= 1f - lr * weightDecay;
                m[i] += (1f - 0.9f) * (g - m[i]);
                v[i] = v[i] * 0.95f + (1f - 0.95f) * g * g;
                expected[i] -= stepSize * (m[i] / (MathF.Sqrt(v[i]) / bc2 + 1e-8f));
            }
        }
        Assert.Equal(expected, p.Data);
        Assert.Equal(m, adam.M.Data);
        Assert.Equal(v, adam.V.Data);
    }

    [Fact]
    public void Weight_decay_is_decoupled_and_applied_before_the_update()
    {
        var p = Slab();
        float w0 = p.Data[1];
        var adam = new Adam(p, weightDecay: 0.1f);
        var grads = new float[p.Length];
        grads[1] = 2f;
        adam.Update(grads, 0.5f);
        // p = p·(1 − lr·wd), then the first Adam step moves it by lr·g/(|g| + eps) = lr·sign(g).
        Assert.Equal(w0 * (1 - 0.5f * 0.1f) - 0.5f * (2f / (2f + 1e-8f)), p.Data[1], 6);
        // A parameter without gradient only decays.
        Assert.Equal(0.1f * (2 % 7) - 0.3f, p.Data[2] / (1 - 0.05f), 6);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(409_960)]
    public void Sum_of_squares_matches_one_scalar_chain_in_double(int n)
    {
        var rng = new Random(n + 1);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-6, 3)));
        double expected = 0;
        foreach (float v in x) expected += (double)v * v;
        double actual = Adam.SumOfSquares(x);
        Assert.True(Math.Abs(actual - expected) <= 1e-12 * expected, $"n={n}: {actual} vs {expected}");
        Assert.Equal((float)Math.Sqrt(expected), (float)Math.Sqrt(actual));
    }

    [Fact]
    public void Clip_grad_norm_scales_by_max_norm_over_norm_plus_1e6_only_when_that_is_below_one()
    {
        float[] g = [3f, 4f];
        Assert.Equal(5f, Adam.ClipGradNorm(g, 1f));
        Assert.Equal(3f / (5f + 1e-6f), g[0], 7);
        Assert.Equal(4f / (5f + 1e-6f), g[1], 7);
        float[] small = [0.3f, 0.4f];
        Assert.Equal(0.5f, Adam.ClipGradNorm(small, 1f), 6);
        Assert.Equal([0.3f, 0.4f], small);
        float[] measured = [3f, 4f];
        Assert.Equal(5f, Adam.ClipGradNorm(measured, 0f));
        Assert.Equal([3f, 4f], measured);
    }

    [Fact]
    public void Schedule_warms_up_linearly_then_decays_by_cosine_to_zero()
    {
        var s = new LrSchedule(0.01, 2, 5);
        double[] expected = [0.005, 0.01, 0.01, 0.01 * 0.5 * (1 + Math.Cos(Math.PI / 3)), 0.01 * 0.5 * (1 + Math.Cos(2 * Math.PI / 3))];
        for (int t = 0; t < 5; t++)
            Assert.Equal(expected[t], s.At(t), 9);
        Assert.Equal(0f, s.At(5));
        Assert.Equal(0.003f, new LrSchedule(0.003, 0, 10).At(0), 9);
    }

    [Fact]
    public void Invalid_schedule_and_adam_settings_are_user_errors()
    {
        Assert.Contains("HINT", Assert.Throws<UserError>(() => new LrSchedule(0.01, 10, 10).Validate()).Message);
        Assert.Contains("HINT", Assert.Throws<UserError>(() => new LrSchedule(0, 1, 10).Validate()).Message);
        Assert.Contains("beta2", Assert.Throws<UserError>(() => new Adam(Slab(), beta2: 1f)).Message);
    }
}
