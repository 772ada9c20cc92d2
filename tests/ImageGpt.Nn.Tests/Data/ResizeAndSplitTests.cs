using ImageGpt.Nn.Model;
using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Tests.Data;

public class AreaResizeTests
{
    // Naive twin: integrates each output pixel's area over the input in doubles.
    private static double[] Reference(byte[] img, int inH, int inW, int outH, int outW, int ch)
    {
        var result = new double[outH * outW * ch];
        double sy = (double)inH / outH, sx = (double)inW / outW;
        for (var oy = 0; oy < outH; oy++)
            for (var ox = 0; ox < outW; ox++)
                for (var c = 0; c < ch; c++)
                {
                    double acc = 0;
                    for (var iy = 0; iy < inH; iy++)
                    {
                        var wy = Math.Max(0, Math.Min(iy + 1, (oy + 1) * sy) - Math.Max(iy, oy * sy));
                        if (wy == 0) continue;
                        for (var ix = 0; ix < inW; ix++)
                        {
                            var wx = Math.Max(0, Math.Min(ix + 1, (ox + 1) * sx) - Math.Max(ix, ox * sx));
                            acc += wy * wx * img[(iy * inW + ix) * ch + c];
                        }
                    }
                    result[(oy * outW + ox) * ch + c] = acc / (sy * sx);
                }
        return result;
    }

    [Theory]
    [InlineData(28, 14, 1)]
    [InlineData(28, 10, 1)]
    [InlineData(32, 24, 3)]
    [InlineData(5, 3, 1)]
    [InlineData(3, 7, 3)]
    [InlineData(7, 7, 1)]
    public void Resize_matches_the_area_integral_rounded_to_nearest(int inSide, int outSide, int ch)
    {
        var rng = new SeededRandom((ulong)(inSide * 100 + outSide));
        var img = new byte[inSide * inSide * ch];
        for (var i = 0; i < img.Length; i++) img[i] = (byte)rng.NextInt(256);
        var output = new byte[outSide * outSide * ch];
        new AreaResize(inSide, inSide, outSide, outSide).Apply(img, output, ch);
        var reference = Reference(img, inSide, inSide, outSide, outSide, ch);
        for (var i = 0; i < output.Length; i++)
        {
            Assert.InRange(Math.Abs(output[i] - reference[i]), 0, 0.5 + 1e-9);
            // Away from exact halves the rounding is unambiguous.
            if (Math.Abs(reference[i] - Math.Floor(reference[i]) - 0.5) > 1e-6)
                Assert.Equal(Math.Round(reference[i]), output[i]);
        }
    }

    [Fact]
    public void Two_by_two_blocks_average_with_ties_to_even()
    {
        // A 4x4 image, row by row.
        byte[] img = [0, 1, 2, 3, 2, 2, 0, 0, 3, 3, 1, 1, 0, 1, 1, 1];
        var output = new byte[4];
        new AreaResize(4, 4, 2, 2).Apply(img, output, 1);
        // (0+1+2+2)/4 = 1.25 -> 1; (2+3+0+0)/4 = 1.25 -> 1; (3+3+0+1)/4 = 1.75 -> 2; (1+1+1+1)/4 = 1
        Assert.Equal([1, 1, 2, 1], output);
        byte[] tie = [2, 3, 2, 3];
        var one = new byte[1];
        new AreaResize(2, 2, 1, 1).Apply(tie, one, 1);
        Assert.Equal(2, one[0]); // 2.5 rounds to even
        new AreaResize(2, 2, 1, 1).Apply([3, 4, 3, 4], one, 1);
        Assert.Equal(4, one[0]); // 3.5 rounds to even
    }

    [Fact]
    public void Data_set_resize_keeps_labels_and_changes_side()
    {
        var set = new DataSet("x", DataFiles.Pixels(3, 28), [0, 1, 2], 28, 1, ["a", "b", "c"]);
        var small = set.Resize(14);
        Assert.Equal((14, 3), (small.Side, small.Count));
        Assert.Equal(set.Labels, small.Labels);
        var expected = new byte[196];
        new AreaResize(28, 28, 14, 14).Apply(set.Image(1), expected, 1);
        Assert.Equal(expected, small.Image(1).ToArray());
    }
}

public class SplitTests
{
    // Image i carries its index in its first two pixels, so a split can be traced back to the file.
    private static DataSet Set(int n)
    {
        var px = new byte[n * 4];
        for (var i = 0; i < n; i++) { px[4 * i] = (byte)(i & 0xFF); px[4 * i + 1] = (byte)(i >> 8); }
        return new DataSet("s", px, Enumerable.Range(0, n).Select(i => i % 3).ToArray(), 2, 1, ["a", "b", "c"]);
    }

    private static int[] Ids(DataSet s) => Enumerable.Range(0, s.Count).Select(i => s.Image(i)[0] | s.Image(i)[1] << 8).ToArray();

    [Fact]
    public void Validation_is_ten_percent_disjoint_from_train_and_fixed_by_the_seed()
    {
        var full = Set(1000);
        var test = Set(50);
        var a = DataSplits.HoldOut(full, test, 0.1, 7);
        var b = DataSplits.HoldOut(full, test, 0.1, 7);
        var c = DataSplits.HoldOut(full, test, 0.1, 8);
        Assert.Equal(100, a.Validation.Count);
        Assert.Equal(900, a.Train.Count);
        Assert.Same(test, a.Test);
        var train = Ids(a.Train);
        var val = Ids(a.Validation);
        Assert.Empty(train.Intersect(val));
        Assert.Equal(Enumerable.Range(0, 1000), train.Concat(val).Order());
        Assert.Equal(val.Order(), val);
        Assert.All(val, i => Assert.Equal(i % 3, a.Validation.Labels[Array.IndexOf(val, i)]));
        Assert.Equal(val, Ids(b.Validation));
        Assert.NotEqual(val, Ids(c.Validation));
    }
}
