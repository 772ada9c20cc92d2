using ImageGpt.Nn.Data;
using ImageGpt.Nn.Eval;
using ImageGpt.Nn.Imaging;

namespace ImageGpt.Nn.Tests.Eval;

public sealed class CompletionsTests
{
    [Fact]
    public void TheGridKeepsThePromptHalfEqualToTheQuantizedTopHalf()
    {
        var config = EvalFixtures.Config(side: 6);
        var images = EvalFixtures.TwoClass(3, 6, seed: 4);
        var palette = EvalFixtures.Gray(images, levels: 8);
        var tokens = EvalData.Tokens(images, config, palette);
        var model = EvalFixtures.Model(config, 1);
        var set = Completions.Sample(model.Parameters, images, tokens, completions: 3, seed: 5);
        var rows = set.Rows(palette);
        int T = config.Seq, P = 3 * 6;
        Assert.Equal(P, set.PromptLength);
        Assert.Equal(3, rows.Count);
        for (int i = 0; i < 3; i++)
        {
            var quantized = new byte[T];
            palette.Decode(tokens.Sequence(i), quantized);
            Assert.Equal(5, rows[i].Count);
            Assert.Equal(images.Image(i).ToArray(), rows[i][0].Pixels);
            Assert.Equal(quantized[..P], rows[i][1].Pixels[..P]);
            Assert.All(rows[i][1].Pixels[P..], v => Assert.Equal(128, v));
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(quantized[..P], rows[i][2 + k].Pixels[..P]);
                Assert.All(rows[i][2 + k].Pixels, v => Assert.Contains(v, palette.Centers.Select(ImageGpt.Nn.Palette.Palette.DecodeValue)));
            }
        }
        // Completions of one image are separate draws.
        Assert.NotEqual(rows[0][2].Pixels, rows[0][3].Pixels);
    }

    [Fact]
    public void TheSameSeedGivesTheSameCompletionsAndTheGridIsAPng()
    {
        var config = EvalFixtures.Config(side: 4);
        var images = EvalFixtures.TwoClass(2, 4, seed: 4);
        var palette = EvalFixtures.Gray(images);
        var tokens = EvalData.Tokens(images, config, palette);
        var p = EvalFixtures.Model(config, 1).Parameters;
        var a = Completions.Sample(p, images, tokens, 2, seed: 1);
        var b = Completions.Sample(p, images, tokens, 2, seed: 1);
        var c = Completions.Sample(p, images, tokens, 2, seed: 2);
        Assert.Equal(a.Completions, b.Completions);
        Assert.NotEqual(a.Completions, c.Completions);
        var grid = ImageGrid.Compose(a.Rows(palette), scale: 4, separator: 2);
        // 4 columns (original, masked, 2 completions) of 16 px plus 5 separators; 2 rows plus 3.
        Assert.Equal((4 * 16 + 5 * 2, 2 * 16 + 3 * 2), (grid.Width, grid.Height));
    }
}
