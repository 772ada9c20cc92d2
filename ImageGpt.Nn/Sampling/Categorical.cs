using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Sampling;

/// <summary>Draws one index from softmax(logits / temperature), accumulated in float64.</summary>
public static class Categorical
{
    /// <summary>Throws a UserError unless the temperature is a finite number above 0.</summary>
    public static void ValidateTemperature(double temperature)
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new UserError($"temperature = {temperature} must be a finite number above 0. HINT: use 1 (the paper's setting); values near 0 approach argmax");
    }

    /// <summary>
    /// Inverse-CDF draw: u ~ U[0, Σw) with w_i = exp((l_i − max l)/temperature), then the first i whose
    /// running sum exceeds u. Two passes recompute the same weights instead of storing them, so
    /// the draw needs no buffer. Subtracting the max keeps the argmax weight at exactly 1, so tiny
    /// temperatures cannot overflow and reduce to argmax (ties: the lowest index).
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, double temperature, SeededRandom rng)
    {
        // logits (V)
        if (logits.IsEmpty) throw new ArgumentException("no logits to sample from", nameof(logits));
        ValidateTemperature(temperature);
        double max = double.NegativeInfinity;
        int argmax = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (float.IsNaN(logits[i])) throw new ArgumentException($"logit {i} is NaN", nameof(logits));
            if (logits[i] > max) (max, argmax) = (logits[i], i);
        }
        if (double.IsInfinity(max))
            throw new ArgumentException("the largest logit must be finite (-infinity marks a token that cannot be drawn)", nameof(logits));
        double inv = 1.0 / temperature, sum = 0;
        for (int i = 0; i < logits.Length; i++)
            sum += Math.Exp((logits[i] - max) * inv);
        double u = rng.NextDouble() * sum, cumulative = 0;
        int last = argmax;
        for (int i = 0; i < logits.Length; i++)
        {
            double w = Math.Exp((logits[i] - max) * inv);
            if (w == 0) continue;
            cumulative += w;
            last = i;
            if (u < cumulative) return i;
        }
        // Rounding can leave u just above the final running sum: the last drawable index owns that sliver.
        return last;
    }
}
