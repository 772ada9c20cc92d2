using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>Seeded, portable initialisation (IGPT.md "Init") and the config's derived numbers.</summary>
public sealed class ModelInitTests
{
    private static GptConfig Config(ulong seed, int layers = 2, int width = 16) =>
        new(layers, width, 4, 16, 4, 3, Objective.Autoregressive, seed);

    [Fact]
    public void Xoshiro256_starstar_seeded_by_splitmix64_matches_an_independent_python_implementation()
    {
        // Expected values: the reference algorithms re-implemented in Python with arbitrary-precision ints.
        var r0 = new SeededRandom(0);
        Assert.Equal([0x99ec5f36cb75f2b4UL, 0xbf6e1f784956452aUL, 0x1a5f849d4933e6e0UL], new[] { r0.NextUInt64(), r0.NextUInt64(), r0.NextUInt64() });
        var r1 = new SeededRandom(12345);
        Assert.Equal([0xbe6a36374160d49bUL, 0x214aaa0637a688c6UL, 0xf69d16de9954d388UL], new[] { r1.NextUInt64(), r1.NextUInt64(), r1.NextUInt64() });
    }

    [Fact]
    public void First_token_embedding_values_for_seed_1_match_the_python_polar_method()
    {
        // Same generator and Marsaglia polar method in Python (math.log), times 0.02, rounded to float32.
        var model = new Gpt(Config(1), 1);
        model.Init();
        Assert.Equal([0.03768792375922203f, 0.0037956179585307837f, 0.026041805744171143f, -0.038188688457012177f, 0.0087664183229208f],
            model.Parameters["wte"][..5].ToArray());
    }

    [Fact]
    public void Portable_log_agrees_with_math_log_to_an_ulp_over_many_magnitudes()
    {
        var rng = new SeededRandom(3);
        for (int i = 0; i < 20000; i++)
        {
            double x = rng.NextDouble() * Math.Pow(2, rng.NextInt(80) - 60) + double.Epsilon;
            double expected = Math.Log(x), actual = SeededRandom.PortableLog(x);
            double ulp = Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected);
            Assert.True(Math.Abs(expected - actual) <= 2 * ulp,
                $"log({x:R}) = {expected:R}, portable {actual:R}");
        }
    }

    [Fact]
    public void Same_seed_gives_identical_bits_and_another_seed_differs()
    {
        var a = new Gpt(Config(7), 1);
        var b = new Gpt(Config(7), 1);
        var c = new Gpt(Config(8), 1);
        a.Init();
        b.Init();
        c.Init();
        Assert.Equal(a.Parameters.Data, b.Parameters.Data);
        Assert.NotEqual(a.Parameters.Data, c.Parameters.Data);
    }

    [Fact]
    public void Init_standard_deviations_follow_the_paper()
    {
        const int L = 4, C = 128;
        var model = new Gpt(Config(11, L, C), 1);
        model.Init();
        var p = model.Parameters;
        void Std(string name, double expected)
        {
            var x = p[name];
            double mean = 0, sq = 0;
            foreach (float v in x) { mean += v; sq += (double)v * v; }
            mean /= x.Length;
            double std = Math.Sqrt(sq / x.Length - mean * mean);
            // Sample std of n normals has relative error about 1/√(2n); 5% is > 5 sigma for n >= 2048.
            Assert.True(Math.Abs(std / expected - 1) < 0.05, $"{name}: std {std:E3}, expected {expected:E3}");
            Assert.True(Math.Abs(mean) < 5 * expected / Math.Sqrt(x.Length), $"{name}: mean {mean:E3}");
        }
        Std("wte", 0.02);
        Std("wpe", 0.01);
        Std("h.0.attn.q", 1 / Math.Sqrt(C));
        Std("h.3.attn.v", 1 / Math.Sqrt(C));
        Std("h.1.attn.c_proj", 1 / Math.Sqrt(C * L));
        Std("h.2.mlp.c_fc", 0.02);
        Std("h.3.mlp.c_proj", 0.02);
        Assert.All(p["h.0.ln_1.g"].ToArray(), g => Assert.Equal(1f, g));
        Assert.All(p["ln_f.g"].ToArray(), g => Assert.Equal(1f, g));
        Assert.All(p["head"].ToArray(), h => Assert.Equal(0f, h));
        Assert.All(p["clf"].ToArray(), h => Assert.Equal(0f, h));
        Assert.Contains(p["sos"].ToArray(), s => s != 0f);
    }

    [Theory]
    [InlineData(24, 512, 8, 76)]
    [InlineData(36, 1024, 8, 455)]
    [InlineData(48, 1536, 16, 1362)]
    public void Parameter_count_reproduces_the_paper_sizes(int layers, int width, int heads, int millions)
    {
        // IGPT.md: 76M / 455M / 1.4B for S / M / L at V = 512, T = 32² = 1024, no classifier.
        var config = new GptConfig(layers, width, heads, 512, 32, 0, Objective.Autoregressive, 0);
        Assert.Equal(millions, (int)(config.ParameterCount / 1_000_000)); // the paper truncates: 76.57M is "76M"
    }

    [Fact]
    public void Parameter_count_equals_the_slab_length()
    {
        var config = Config(0, 3, 24);
        Assert.Equal(config.ParameterCount, new ParameterSlab(config).Length);
        Assert.Equal(config.ParameterCount - 3 * 24, new ParameterSlab(config with { Classes = 0 }).Length);
    }

    [Fact]
    public void Flops_per_token_follow_the_formula_and_describe_prints_them()
    {
        var c = new GptConfig(8, 64, 4, 16, 14, 0, Objective.Autoregressive, 0);
        Assert.Equal(72.0 * 8 * 64 * 64 + 12.0 * 8 * 196 * 64 + 6.0 * 64 * 16, c.TrainingFlopsPerToken);
        Assert.Equal(c.TrainingFlopsPerToken - 6.0 * 8 * 196 * 64, c.TrainingFlopsPerTokenCausal);
        Assert.Contains($"{c.ParameterCount:N0} parameters", c.Describe());
    }

    [Theory]
    [InlineData(2, 30, 4, "not divisible")]
    [InlineData(0, 32, 4, "layers")]
    [InlineData(2, 32, 0, "heads")]
    public void Invalid_configs_are_user_errors_naming_the_value(int layers, int width, int heads, string fragment)
    {
        var e = Assert.Throws<UserError>(() => new GptConfig(layers, width, heads, 16, 4, 0, Objective.Autoregressive, 0).Validate());
        Assert.Contains(fragment, e.Message);
        Assert.Contains("HINT", e.Message);
    }
}
