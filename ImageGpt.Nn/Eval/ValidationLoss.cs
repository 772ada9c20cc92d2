using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Eval;

/// <summary>Generative loss over a split: nats per token (the paper's unit) and bits per token.</summary>
public readonly record struct GenerativeLoss(double NatsPerToken, int Images)
{
    public double BitsPerToken => NatsPerToken / Math.Log(2);

    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{NatsPerToken:F4} nats/token ({BitsPerToken:F4} bits/token) over {Images} images");
}

public static class ValidationLoss
{
    /// <summary>
    /// Mean autoregressive cross-entropy over every position of every image in <paramref name="set"/>,
    /// in batches of at most the model's capacity. Each batch's mean is weighted by its image count, so
    /// the result does not depend on the batch size.
    /// </summary>
    public static GenerativeLoss Measure(Gpt model, TokenSet set, int batch)
    {
        if (!model.Config.Causal)
            throw new UserError("the validation loss is the autoregressive objective's; this model was trained with the BERT objective");
        if (set.T != model.Config.Seq) throw new ArgumentException($"token set has T={set.T}, the model {model.Config.Seq}", nameof(set));
        if (set.Count == 0) throw new ArgumentException("the token set is empty", nameof(set));
        batch = Math.Clamp(batch, 1, model.BatchCapacity);
        double sum = 0;
        for (int start = 0; start < set.Count; start += batch)
        {
            int b = Math.Min(batch, set.Count - start);
            sum += (double)model.Forward(set.Tokens.AsSpan(start * set.T, b * set.T)) * b;
        }
        return new GenerativeLoss(sum / set.Count, set.Count);
    }
}
