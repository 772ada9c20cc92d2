namespace ImageGpt.Torch.Tests;

/// <summary>How far two float tensors of the two engines lie apart.</summary>
internal static class Compare
{
    /// <summary>
    /// max|actual − expected| / max|expected|: the error relative to the tensor's scale. Element-wise relative
    /// error means nothing for elements that cancel to near zero, and both engines round each element of a
    /// sum in their own order, so every element carries an error of the order of the tensor's largest terms.
    /// A tensor that is zero in the oracle is compared absolutely.
    /// </summary>
    public static double Relative(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"lengths {actual.Length} and {expected.Length} differ");
        double diff = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    public static double Relative(double actual, double expected) =>
        expected == 0 ? Math.Abs(actual) : Math.Abs(actual - expected) / Math.Abs(expected);
}
