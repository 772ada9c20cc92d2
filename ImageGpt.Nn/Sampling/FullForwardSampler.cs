using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Sampling;

/// <summary>
/// The naive twin of <see cref="Sampler"/>: re-runs the full forward pass over all T positions
/// for every sampled token and reads the logits of the position being drawn (causality makes
/// the not-yet-sampled positions irrelevant). O(T) block work per token instead of O(1); the
/// oracle for the cached sampler and the baseline of its benchmark.
/// </summary>
public static class FullForwardSampler
{
    /// <summary>
    /// As <see cref="Sampler.Complete(ReadOnlySpan{int}, int, Span{int}, ulong, double)"/> with total = T:
    /// prompt (B,P), output (B,T), the same per-image random streams. <paramref name="maxPositions"/>
    /// stops after that many sampled positions (the rest stay 0): every position costs the same
    /// full pass, so a benchmark times a few and need not wait for all T.
    /// </summary>
    public static void Complete(Gpt model, ReadOnlySpan<int> prompt, int batch, Span<int> output, ulong seed, double temperature = 1.0,
        int maxPositions = int.MaxValue)
    {
        var c = model.Config;
        if (!c.Causal)
            throw new UserError($"sampling needs an autoregressive model, but this one has objective = {c.Objective}. HINT: train with the autoregressive objective to sample");
        Categorical.ValidateTemperature(temperature);
        int T = c.Seq, V = c.Vocab;
        if (batch < 1 || batch > model.BatchCapacity || output.Length != batch * T || prompt.Length % batch != 0 || prompt.Length / batch > T)
            throw new ArgumentException($"need 1 <= batch <= {model.BatchCapacity}, output (B,T) and a prompt (B,P) with P <= T = {T}");
        int P = prompt.Length / batch;
        var rngs = Sampler.ImageStreams(seed, batch);
        output.Clear();
        for (int b = 0; b < batch; b++)
            prompt.Slice(b * P, P).CopyTo(output.Slice(b * T, P));
        int end = (int)Math.Min(T, (long)P + maxPositions);
        for (int t = P; t < end; t++)
        {
            model.Forward(output);
            var logits = model.Logits;
            for (int b = 0; b < batch; b++)
                output[b * T + t] = Categorical.Sample(logits.Slice((b * T + t) * V, V), temperature, rngs[b]);
        }
    }
}
