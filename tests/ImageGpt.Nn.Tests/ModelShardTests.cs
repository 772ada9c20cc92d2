using ImageGpt.Nn.Model;
using Xunit.Abstractions;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// A step's gradient must not depend on how its batch is split into shards (up to float rounding),
/// and a given split must reduce to the same bits every time (DESIGN.md: determinism).
/// </summary>
public sealed class ModelShardTests(ITestOutputHelper output)
{
    private static readonly GptConfig Config = new(2, 16, 2, 8, 3, 0, Objective.Autoregressive, 5);
    private const int Images = 4;

    private static int[] Tokens()
    {
        var rng = new SeededRandom(17);
        return Enumerable.Range(0, Images * Config.Seq).Select(_ => rng.NextInt(Config.Vocab)).ToArray();
    }

    private static ParameterSlab Weights()
    {
        var m = new Gpt(Config, 1);
        m.Init();
        // The paper init zeroes the head, which would leave most gradients zero: randomise it.
        new SeededRandom(3).FillNormal(m.Parameters["head"], 0.05);
        return m.Parameters;
    }

    /// <summary>Runs each shard on its own replica (as separate trainers would) and reduces in shard order.</summary>
    private static (float[] Grads, float Loss) Step(ParameterSlab weights, int shardImages)
    {
        var tokens = Tokens();
        int T = Config.Seq;
        var shards = new List<ShardGradient>();
        for (int start = 0; start < Images; start += shardImages)
        {
            var replica = new Gpt(Config, shardImages);
            replica.Parameters.CopyFrom(weights);
            float loss = replica.Forward(tokens.AsSpan(start * T, shardImages * T));
            replica.Backward();
            shards.Add(new ShardGradient(replica.Gradients.Data, loss, shardImages));
        }
        var dest = new float[weights.Length];
        float total = GradientReduction.Reduce(dest, shards);
        return (dest, total);
    }

    [Fact]
    public void One_two_and_four_shards_give_the_same_gradient_and_loss()
    {
        var w = Weights();
        var (g1, l1) = Step(w, 4);
        var (g2, l2) = Step(w, 2);
        var (g4, l4) = Step(w, 1);
        // The shard means and weights reorder the float sums: each element is a sum of a few
        // hundred terms of size <= max|g|, so rounding differences stay near 1e-7·max|g|;
        // 1e-6·max|g| leaves a 10x margin yet catches any missing or doubled shard.
        float scale = g1.Max(MathF.Abs);
        Assert.True(scale > 0);
        double d2 = g1.Zip(g2, (a, b) => Math.Abs(a - b)).Max(), d4 = g1.Zip(g4, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"max|g| {scale:E3}; max diff 1 vs 2 shards {d2:E2}, 1 vs 4 shards {d4:E2}");
        for (int i = 0; i < g1.Length; i++)
        {
            Assert.True(Math.Abs(g1[i] - g2[i]) <= 1e-6 * scale, $"[{i}] 1 shard {g1[i]} vs 2 shards {g2[i]}");
            Assert.True(Math.Abs(g1[i] - g4[i]) <= 1e-6 * scale, $"[{i}] 1 shard {g1[i]} vs 4 shards {g4[i]}");
        }
        Assert.Equal(l1, l2, 5);
        Assert.Equal(l1, l4, 5);
    }

    [Fact]
    public void The_same_shard_split_reduces_to_identical_bits_on_every_run()
    {
        var w = Weights();
        var (a, la) = Step(w, 2);
        var (b, lb) = Step(w, 2);
        Assert.Equal(a, b);
        Assert.Equal(la, lb);
    }

    [Fact]
    public void Shards_of_unequal_size_are_weighted_by_their_images()
    {
        float[] g0 = [1f, 2f], g1 = [4f, 8f];
        var dest = new float[2];
        float loss = GradientReduction.Reduce(dest, [new ShardGradient(g0, 1f, 3), new ShardGradient(g1, 5f, 1)]);
        Assert.Equal([0.75f * 1 + 0.25f * 4, 0.75f * 2 + 0.25f * 8], dest);
        Assert.Equal(2f, loss);
    }

    [Fact]
    public void A_batch_larger_than_the_capacity_is_refused()
    {
        var model = new Gpt(Config, 2);
        Assert.Throws<ArgumentException>(() => model.Forward(new int[3 * Config.Seq]));
    }
}
