using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Tests;

/// <summary>The model's input contract: batch capacity, token types, masks and the no-allocation hot loop.</summary>
public sealed class ModelBatchTests
{
    private static readonly GptConfig Ar = new(2, 16, 2, 8, 3, 3, Objective.Autoregressive, 5);

    private static Gpt Model(GptConfig c, int batch, ParameterSlab? shared = null)
    {
        var m = new Gpt(c, batch, shared);
        if (shared is null)
        {
            m.Init();
            new SeededRandom(3).FillNormal(m.Parameters["head"], 0.05);
            new SeededRandom(4).FillNormal(m.Parameters["clf"], 0.05);
        }
        return m;
    }

    private static int[] Tokens(int images, GptConfig c)
    {
        var rng = new SeededRandom(9);
        return Enumerable.Range(0, images * c.Seq).Select(_ => rng.NextInt(c.Vocab)).ToArray();
    }

    [Fact]
    public void A_smaller_batch_than_the_capacity_gives_the_same_loss_logits_and_gradients_as_an_exact_fit()
    {
        var big = Model(Ar, 4);
        var exact = Model(Ar, 2, big.Parameters);
        var tokens = Tokens(2, Ar);
        int[] labels = [0, 2];
        big.Forward(tokens, labels);
        big.Backward();
        exact.Forward(tokens, labels);
        exact.Backward();
        Assert.Equal(exact.Loss, big.Loss);
        Assert.Equal(exact.Logits.ToArray(), big.Logits.ToArray());
        Assert.Equal(exact.Gradients.Data, big.Gradients.Data);
    }

    [Fact]
    public void Ushort_tokens_give_the_same_result_as_int_tokens()
    {
        var m = Model(Ar, 2);
        var tokens = Tokens(2, Ar);
        float a = m.Forward(tokens);
        var fa = m.ProbeFeatures(tokens);
        float b = m.Forward(tokens.Select(t => (ushort)t).ToArray().AsSpan());
        var fb = new float[fa.Length];
        m.ProbeFeatures(tokens.Select(t => (ushort)t).ToArray().AsSpan(), fb);
        Assert.Equal(a, b);
        Assert.Equal(fa, fb);
    }

    [Fact]
    public void A_zero_initialised_head_predicts_uniformly_so_the_loss_is_log_vocab()
    {
        var m = new Gpt(Ar, 2);
        m.Init();
        Assert.Equal(MathF.Log(Ar.Vocab), m.Forward(Tokens(2, Ar)), 5);
        Assert.Equal(MathF.Log(Ar.Vocab) + MathF.Log(Ar.Classes), m.Forward(Tokens(2, Ar), [1, 2]), 5);
    }

    [Fact]
    public void Bert_counts_only_masked_positions_and_ignores_images_without_a_mask()
    {
        var bert = Ar with { Objective = Objective.Bert };
        var m = Model(bert, 2);
        var tokens = Tokens(2, bert);
        int T = bert.Seq;
        var mask = new byte[2 * T];
        mask[1] = mask[4] = 1;               // image 0: two masked positions, image 1: none
        m.Forward(tokens, default, mask);
        m.Backward();
        // The same image alone in a batch of one must give the same loss: image 1 adds nothing.
        var alone = Model(bert, 1, m.Parameters);
        Assert.Equal(alone.Forward(tokens.AsSpan(0, T), default, mask.AsSpan(0, T)), m.Loss, 6);
        Assert.Equal(0f, m.Forward(tokens, default, default));
    }

    [Fact]
    public void Inputs_outside_the_contract_are_refused()
    {
        var m = Model(Ar, 2);
        Assert.Throws<ArgumentException>(() => m.Forward(new int[Ar.Seq + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward(Enumerable.Repeat(Ar.Vocab, Ar.Seq).ToArray()));
        Assert.Throws<ArgumentException>(() => m.Forward(new int[Ar.Seq], default, new byte[Ar.Seq]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Forward(new int[Ar.Seq], [3]));
        Assert.Throws<InvalidOperationException>(() => new Gpt(Ar, 1).Backward());
    }

    [Fact]
    public void Training_steps_after_the_first_allocate_nothing()
    {
        var m = Model(Ar, 2);
        var tokens = Tokens(2, Ar);
        int[] labels = [0, 1];
        var adam = new Optim.Adam(m.Parameters);
        void Step()
        {
            m.ZeroGrad();
            m.Forward(tokens, labels);
            m.Backward();
            Optim.Adam.ClipGradNorm(m.Gradients.Data, 1f);
            adam.Update(m.Gradients.Data, 1e-3f);
        }
        SteadyState.AssertAllocatesNothing(Step);
    }
}
