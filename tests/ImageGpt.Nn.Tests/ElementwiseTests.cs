using System.Numerics.Tensors;
using ImageGpt.Nn.Kernels;

namespace ImageGpt.Nn.Tests;

/// <summary>The element-wise loops give their TensorPrimitives namesakes' bits, at lengths with and without a tail, in place too.</summary>
public sealed class ElementwiseTests
{
    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-4, 4)));
        return x;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(409_963)]  // a gradient slab, above TensorPrimitives' large-array threshold
    public void Add_scale_and_multiply_add_give_the_bits_of_tensor_primitives(int n)
    {
        float[] x = Random(n, 1), y = Random(n, 2);
        float[] expected = new float[n], actual = new float[n];
        TensorPrimitives.Add(x, y, expected);
        Elementwise.Add(x, y, actual);
        Assert.Equal(expected, actual);
        float[] inPlace = (float[])x.Clone();
        Elementwise.Add(inPlace, y, inPlace);
        Assert.Equal(expected, inPlace);

        expected = (float[])x.Clone();
        actual = (float[])x.Clone();
        TensorPrimitives.Multiply(expected, 0.37f, expected);
        Elementwise.Scale(actual, 0.37f);
        Assert.Equal(expected, actual);

        expected = (float[])y.Clone();
        actual = (float[])y.Clone();
        TensorPrimitives.MultiplyAdd(x, 0.3f, expected, expected);
        Elementwise.MultiplyAdd(x, 0.3f, actual);
        Assert.Equal(expected, actual);
        // the product is rounded before the add: a fused multiply-add would differ somewhere in this many elements
        if (n > 1000)
            Assert.Contains(Enumerable.Range(0, n), i => MathF.FusedMultiplyAdd(x[i], 0.3f, y[i]) != actual[i]);
    }

    [Fact]
    public void Lengths_that_differ_are_refused()
    {
        Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[3], new float[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Elementwise.MultiplyAdd(new float[3], 1f, new float[4]));
    }
}
