using ImageGpt.Nn.Model;
using ImageGpt.Nn.Sampling;

namespace ImageGpt.Nn.Tests.Sampling;

/// <summary>The KV-cached sampler against the full forward pass, seeding, prompts, statistics, objective checks.</summary>
public sealed class SamplerTests
{
    private static readonly GptConfig Tiny = new(2, 32, 4, 16, 4, 0, Objective.Autoregressive, 21);
    // Odd sizes: width not a multiple of the vector length, one-pixel heads' neighbours, T = 9.
    private static readonly GptConfig Odd = new(3, 12, 3, 7, 3, 2, Objective.Autoregressive, 22);

    /// <summary>Paper init, then a random head and gains: the paper's zero head would make every logit 0.</summary>
    private static Gpt RandomModel(GptConfig c, int batch, double headStd = 0.3)
    {
        var m = new Gpt(c, batch);
        m.Init();
        var rng = new SeededRandom(c.Seed + 100);
        rng.FillNormal(m.Parameters["head"], headStd);
        foreach (var slot in m.Parameters.Slots.Where(s => s.Name.EndsWith(".g", StringComparison.Ordinal)))
        {
            var g = m.Parameters.Span(slot);
            rng.FillNormal(g, 0.1);
            for (int i = 0; i < g.Length; i++) g[i] += 1f;
        }
        return m;
    }

    private static int[] Tokens(GptConfig c, int images, ulong seed)
    {
        var rng = new SeededRandom(seed);
        return Enumerable.Range(0, images * c.Seq).Select(_ => rng.NextInt(c.Vocab)).ToArray();
    }

    public static TheoryData<string> Configs => new() { "tiny", "odd" };
    private static GptConfig ByName(string name) => name == "tiny" ? Tiny : Odd;

    [Theory]
    [MemberData(nameof(Configs))]
    public void Cached_logits_at_every_position_equal_the_full_forward_logits(string name)
    {
        var c = ByName(name);
        int B = 3, T = c.Seq, V = c.Vocab;
        var model = RandomModel(c, B);
        var tokens = Tokens(c, B, 31);
        model.Forward(tokens);
        var full = model.Logits.ToArray();
        Assert.Contains(full, x => Math.Abs(x) > 0.1f); // the comparison is not between zeros

        var sampler = new Sampler(model, batchCapacity: 5); // a batch below the capacity
        for (int run = 0; run < 2; run++) // the second run reuses the cache: nothing stale may leak in
        {
            sampler.Reset(B);
            var prev = new int[B];
            double maxDiff = 0;
            for (int t = 0; t < T; t++)
            {
                for (int b = 0; b < B; b++) prev[b] = t > 0 ? tokens[b * T + t - 1] : 0;
                var logits = sampler.Step(t == 0 ? ReadOnlySpan<int>.Empty : prev);
                Assert.Equal(B * V, logits.Length);
                for (int b = 0; b < B; b++)
                for (int v = 0; v < V; v++)
                    maxDiff = Math.Max(maxDiff, Math.Abs(logits[b * V + v] - full[(b * T + t) * V + v]));
            }
            Assert.InRange(maxDiff, 0, 1e-5);
            Assert.Equal(T, sampler.Position);
        }
    }

    [Fact]
    public void A_step_past_the_last_position_or_with_the_wrong_previous_tokens_throws()
    {
        var sampler = new Sampler(RandomModel(Odd, 2), 2);
        sampler.Reset(2);
        Assert.Throws<ArgumentException>(() => sampler.Step([1, 2]));      // position 0 takes no previous token
        sampler.Step(ReadOnlySpan<int>.Empty);
        Assert.Throws<ArgumentException>(() => sampler.Step([1]));         // one per image
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Step([1, Odd.Vocab]));
        for (int t = 1; t < Odd.Seq; t++) sampler.Step([1, 2]);
        Assert.Throws<InvalidOperationException>(() => sampler.Step([1, 2]));
    }

    [Fact]
    public void Steps_allocate_nothing()
    {
        var sampler = new Sampler(RandomModel(Tiny, 2), 2);
        int[] prev = [3, 4];
        void Run()
        {
            sampler.Reset(2);
            sampler.Step(ReadOnlySpan<int>.Empty);
            for (int t = 1; t < Tiny.Seq; t++) sampler.Step(prev);
        }
        SteadyState.AssertAllocatesNothing(Run);
    }

    [Fact]
    public void The_same_seed_gives_identical_samples_and_different_seeds_differ()
    {
        var sampler = new Sampler(RandomModel(Tiny, 4), 4);
        var a = sampler.SampleUnconditional(4, seed: 7);
        var b = sampler.SampleUnconditional(4, seed: 7);
        var c = sampler.SampleUnconditional(4, seed: 8);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(4 * Tiny.Seq, a.Length);
        Assert.All(a, x => Assert.InRange(x, 0, Tiny.Vocab - 1));
        // An image's draws come from its own stream: sampling it alone gives the same image.
        var alone = sampler.SampleUnconditional(1, seed: 7);
        Assert.Equal(a.AsSpan(0, Tiny.Seq).ToArray(), alone);
    }

    [Fact]
    public void Cached_sampling_draws_the_same_tokens_as_rerunning_the_full_forward_pass()
    {
        int B = 3, P = 5;
        var model = RandomModel(Tiny, B, headStd: 1.0);
        var prompt = Tokens(Tiny, B, 41).Take(B * P).ToArray();
        var cached = new Sampler(model, B).Complete(prompt, B, Tiny.Seq, seed: 99);
        var naive = new int[B * Tiny.Seq];
        FullForwardSampler.Complete(model, prompt, B, naive, seed: 99);
        Assert.Equal(naive, cached);
    }

    [Fact]
    public void Half_image_completions_keep_the_top_half_exactly_and_sample_the_rest()
    {
        int B = 3, T = Tiny.Seq, P = Sampler.HalfImagePromptLength(Tiny);
        Assert.Equal(8, P); // side 4: two rows of four
        var images = Tokens(Tiny, B, 51);
        var sampler = new Sampler(RandomModel(Tiny, B), B);
        var done = sampler.CompleteHalfImages(images, B, seed: 3);
        for (int b = 0; b < B; b++)
            Assert.Equal(images.AsSpan(b * T, P).ToArray(), done.AsSpan(b * T, P).ToArray());
        Assert.All(done, x => Assert.InRange(x, 0, Tiny.Vocab - 1));
        // The bottom halves are samples, not the originals (16^24 ways for them to coincide by chance).
        Assert.NotEqual(images, done);

        // Explicit prompt (B,P) and a total below T: prompt rows first, then samples.
        var prompt = images.Take(B * 3).ToArray();
        var part = sampler.Complete(prompt, B, total: 6, seed: 4);
        for (int b = 0; b < B; b++)
            Assert.Equal(prompt.AsSpan(b * 3, 3).ToArray(), part.AsSpan(b * 6, 3).ToArray());
        // A prompt covering every position is returned unchanged.
        Assert.Equal(images, sampler.Complete(images, B, T, seed: 5));
    }

    [Fact]
    public void Sampled_tokens_follow_the_model_distribution()
    {
        // Every block weight 0 and every input row the same vector e: the residual stream is e at
        // every position, so the logits are the same everywhere and each token is an independent
        // draw from softmax(head · ln_f(e)).
        var c = new GptConfig(2, 16, 2, 8, 8, 0, Objective.Autoregressive, 23);
        var model = new Gpt(c, 1);
        var p = model.Parameters;
        p.Clear();
        foreach (var slot in p.Slots.Where(s => s.Name.EndsWith(".g", StringComparison.Ordinal))) p.Span(slot).Fill(1f);
        p["sos"].Fill(1f);
        p["wte"].Fill(1f);
        double[] probs = [0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03];
        for (int v = 0; v < c.Vocab; v++) p["head"].Slice(v * c.Width, c.Width).Fill((float)(Math.Log(probs[v]) / c.Width));
        model.Forward(new int[c.Seq]);
        var logits = model.Logits[..c.Vocab].ToArray();
        double z = logits.Sum(x => Math.Exp(x));
        var expected = logits.Select(x => Math.Exp(x) / z).ToArray();

        const int B = 16, calls = 12;
        var sampler = new Sampler(model, B);
        var counts = new int[c.Vocab];
        for (int i = 0; i < calls; i++)
            foreach (int x in sampler.SampleUnconditional(B, seed: (ulong)i)) counts[x]++;
        int n = calls * B * c.Seq;
        double chi = 0;
        for (int v = 0; v < c.Vocab; v++) chi += (counts[v] - n * expected[v]) * (counts[v] - n * expected[v]) / (n * expected[v]);
        Assert.InRange(chi, 0, 40.52); // 1e-6 upper quantile of chi-square with 7 degrees of freedom
    }

    [Fact]
    public void A_temperature_near_zero_samples_the_argmax_of_the_logits_at_every_position()
    {
        int B = 2, T = Tiny.Seq, V = Tiny.Vocab;
        var model = RandomModel(Tiny, B, headStd: 1.0);
        var samples = new Sampler(model, B).SampleUnconditional(B, seed: 1, temperature: 1e-3);
        model.Forward(samples);
        var logits = model.Logits;
        for (int i = 0; i < B * T; i++)
        {
            var row = logits.Slice(i * V, V);
            int argmax = 0;
            for (int v = 1; v < V; v++) if (row[v] > row[argmax]) argmax = v;
            Assert.Equal(argmax, samples[i]);
        }
    }

    [Fact]
    public void Bert_models_are_refused_with_a_user_error()
    {
        var bert = new Gpt(Tiny with { Objective = Objective.Bert }, 2);
        var e = Assert.Throws<UserError>(() => new Sampler(bert, 2));
        Assert.Contains("autoregressive", e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.Throws<UserError>(() => FullForwardSampler.Complete(bert, ReadOnlySpan<int>.Empty, 1, new int[Tiny.Seq], seed: 1));
    }

    [Fact]
    public void Bad_batches_prompts_and_temperatures_are_rejected()
    {
        var sampler = new Sampler(RandomModel(Tiny, 2), 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleUnconditional(3, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleUnconditional(0, seed: 1));
        Assert.Throws<UserError>(() => sampler.SampleUnconditional(1, seed: 1, temperature: 0));
        Assert.Throws<ArgumentException>(() => sampler.Complete(new int[5], 2, Tiny.Seq, seed: 1));          // 5 tokens over 2 images
        Assert.Throws<ArgumentException>(() => sampler.Complete(new int[8], 2, 3, seed: 1));                 // prompt longer than total
        Assert.Throws<ArgumentException>(() => sampler.Complete(ReadOnlySpan<int>.Empty, 1, Tiny.Seq + 1, seed: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Complete([0, Tiny.Vocab], 1, Tiny.Seq, seed: 1));
        Assert.Throws<UserError>(() => new Sampler(RandomModel(Tiny, 1), 0));
    }
}
