using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

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
    /// Seed of the BERT masks of every validation loss: the same images get the same masks in every evaluation of every
    /// model, so losses of checkpoints and of runs compare.
    /// </summary>
    public const ulong BertMaskSeed = 0x5EED_0BE7;

    /// <summary>
    /// The training objective's loss over <paramref name="set"/>, in batches of at most the model's capacity.
    /// Autoregressive: mean cross-entropy over every position of every image. BERT: per image the mean over its masked
    /// positions (masks of <see cref="BertMasks"/> by image index and <see cref="BertMaskSeed"/>), then the mean over
    /// images with a masked position. Each batch's mean is weighted by the images it averages, so the result does not
    /// depend on the batch size.
    /// </summary>
    public static GenerativeLoss Measure(Gpt model, TokenSet set, int batch)
    {
        if (set.T != model.Config.Seq) throw new ArgumentException($"token set has T={set.T}, the model {model.Config.Seq}", nameof(set));
        if (set.Count == 0) throw new ArgumentException("the token set is empty", nameof(set));
        batch = Math.Clamp(batch, 1, model.BatchCapacity);
        bool bert = !model.Config.Causal;
        byte[] mask = bert ? new byte[batch * set.T] : [];
        int[] indices = bert ? new int[batch] : [];
        double sum = 0;
        long images = 0;
        for (int start = 0; start < set.Count; start += batch)
        {
            int b = Math.Min(batch, set.Count - start);
            var tokens = set.Tokens.AsSpan(start * set.T, b * set.T);
            if (!bert)
            {
                sum += (double)model.Forward(tokens) * b;
                images += b;
                continue;
            }
            for (int i = 0; i < b; i++) indices[i] = start + i;
            var m = mask.AsSpan(0, b * set.T);
            BertMasks.Fill(m, 0, indices.AsSpan(0, b), set.T, BertMaskSeed);
            int masked = 0;
            for (int i = 0; i < b; i++)
                if (m.Slice(i * set.T, set.T).ContainsAnyExcept((byte)0)) masked++;
            if (masked == 0) continue;
            sum += (double)model.Forward(tokens, mask: m) * masked;
            images += masked;
        }
        if (images == 0) throw new ArgumentException("no image of the token set has a masked position", nameof(set));
        return new GenerativeLoss(sum / images, set.Count);
    }
}
