using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Nn.Tests.Eval;

public class ValidationLossTests
{
    private static TokenSet RandomTokens(int n, GptConfig c, ulong seed)
    {
        var r = new SeededRandom(seed);
        var tokens = new ushort[n * c.Seq];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (ushort)r.NextInt(c.Vocab);
        return new TokenSet(tokens, new int[n], c.Seq);
    }

    [Fact]
    public void A_model_with_the_papers_zero_head_predicts_uniformly_so_the_loss_is_log_V()
    {
        var c = EvalFixtures.Config(vocab: 8);
        var m = new Gpt(c, 4);
        m.Init();
        var loss = ValidationLoss.Measure(m, RandomTokens(7, c, 1), 4);
        Assert.Equal(Math.Log(8), loss.NatsPerToken, 6);
        Assert.Equal(3.0, loss.BitsPerToken, 6);
        Assert.Equal(7, loss.Images);
    }

    [Fact]
    public void The_loss_does_not_depend_on_the_batch_size()
    {
        var c = EvalFixtures.Config();
        var m = EvalFixtures.Model(c, 5);
        var set = RandomTokens(11, c, 2);
        double one = ValidationLoss.Measure(m, set, 1).NatsPerToken;
        Assert.Equal(one, ValidationLoss.Measure(m, set, 5).NatsPerToken, 5);
        Assert.Equal(one, ValidationLoss.Measure(m, set, 4).NatsPerToken, 5);
        Assert.NotEqual(Math.Log(c.Vocab), one, 3);
    }

    [Fact]
    public void A_bert_models_loss_is_the_mean_over_images_of_their_masked_positions_loss_whatever_the_batch()
    {
        var c = EvalFixtures.Config() with { Objective = Objective.Bert };
        var m = EvalFixtures.Model(c, 5);
        var set = RandomTokens(11, c, 4);
        // One image at a time, with its mask drawn by image index: the objective's definition (IGPT.md).
        var mask = new byte[c.Seq];
        double sum = 0;
        int images = 0;
        for (int i = 0; i < set.Count; i++)
        {
            BertMasks.Fill(mask, 0, [i], c.Seq, ValidationLoss.BertMaskSeed);
            if (!mask.AsSpan().ContainsAnyExcept((byte)0)) continue;
            sum += m.Forward(set.Tokens.AsSpan(i * c.Seq, c.Seq), mask: mask);
            images++;
        }
        Assert.True(images > 0);
        foreach (int batch in new[] { 1, 4, 5 })
            Assert.Equal(sum / images, ValidationLoss.Measure(m, set, batch).NatsPerToken, 5);
        Assert.NotEqual(Math.Log(c.Vocab), sum / images, 3);
    }
}
