using System.Runtime.Intrinsics;
using ImageGpt.Nn.Kernels;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>
/// A whole training pass is bit-identical for any thread count: every threaded kernel splits its work so
/// that each output element is one fixed computation. The shapes are above every kernel's parallel
/// threshold (BT·C = 32768 elements, BT·C·C over 2^20 FMAs), so the threaded paths really run.
/// </summary>
public sealed class ModelThreadsTests
{
    private static (float Loss, float[] Logits, float[] Gradients) Step(GptConfig config, int batch, int threads)
    {
        var model = new Gpt(config, batch) { Threads = threads };
        model.Init();
        // A nonzero head, so that every gradient upstream of it is nonzero too.
        new SeededRandom(3).FillNormal(model.Parameters["head"], 0.05);
        var rng = new SeededRandom(9);
        var tokens = Enumerable.Range(0, batch * config.Seq).Select(_ => rng.NextInt(config.Vocab)).ToArray();
        var mask = config.Objective == Objective.Bert
            ? Enumerable.Range(0, tokens.Length).Select(i => (byte)(i % 5 == 0 ? 1 : 0)).ToArray()
            : [];
        float loss = model.Forward(tokens, default, mask);
        model.Backward();
        return (loss, model.Logits.ToArray(), model.Gradients.Data.ToArray());
    }

    [Theory]
    [InlineData(32, 2, Objective.Autoregressive)]  // head size 16: attention recomputes its probabilities
    [InlineData(32, 2, Objective.Bert)]
    [InlineData(32, 8, Objective.Autoregressive)]  // head size 4: attention keeps the (B,NH,T,T) probabilities
    public void Two_and_three_threads_give_the_bits_of_one(int width, int heads, Objective objective)
    {
        var config = new GptConfig(2, width, heads, 8, 8, 0, objective, 11);
        const int Batch = 16; // BT = 1024
        if (Vector512.IsHardwareAccelerated) Assert.Equal(width / heads % 8 == 0, Attention.Recomputes(width, heads));
        var one = Step(config, Batch, 1);
        Assert.True(one.Gradients.Count(g => g != 0f) > one.Gradients.Length / 2, "most gradients should be nonzero");
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Step(config, Batch, threads);
            Assert.Equal(one.Loss, many.Loss);
            Assert.Equal(one.Logits, many.Logits);
            Assert.Equal(one.Gradients, many.Gradients);
        }
    }

    [Fact]
    public void Threaded_training_steps_after_the_first_allocate_nothing_on_the_calling_thread()
    {
        // Shapes above every kernel's parallel threshold, so that each kernel hands pieces to the workers.
        var config = new GptConfig(2, 32, 2, 8, 8, 0, Objective.Autoregressive, 11);
        var model = new Gpt(config, 16) { Threads = 2 };
        model.Init();
        var tokens = Enumerable.Range(0, 16 * config.Seq).Select(i => i % config.Vocab).ToArray();
        var adam = new Optim.Adam(model.Parameters);
        void Step()
        {
            model.ZeroGrad();
            model.Forward(tokens);
            model.Backward();
            Optim.Adam.ClipGradNorm(model.Gradients.Data, 1f);
            adam.Update(model.Gradients.Data, 1e-3f);
        }
        SteadyState.AssertAllocatesNothing(Step);
    }
}
