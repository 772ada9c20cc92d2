using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Training;

/// <summary>
/// One model replica that turns a shard batch into that shard's gradient. The replica reads the
/// parameters it is given (in one process the trainers share the aggregator's slab, which only changes
/// between steps) and keeps its own activations and gradient slab. The result depends only on the
/// parameters and the batch, never on which worker computed it.
/// </summary>
public sealed class ShardWorker : IShardWorker
{
    private readonly Gpt _model;
    private readonly ulong _maskSeed;
    private readonly byte[] _mask;

    /// <param name="maskSeed">Seed of the BERT masks (unused for the autoregressive objective).</param>
    public ShardWorker(ParameterSlab parameters, int batchCapacity, int threads, ulong maskSeed)
    {
        _model = new Gpt(parameters.Config, batchCapacity, parameters) { Threads = threads };
        _maskSeed = maskSeed;
        _mask = new byte[parameters.Config.Objective == Objective.Bert ? batchCapacity * parameters.Config.Seq : 0];
    }

    public GptConfig Config => _model.Config;

    /// <summary>Forward and backward on the shard; its gradient (of the shard's mean loss) is copied into <paramref name="into"/>.</summary>
    public ShardGradient Compute(ShardBatch batch, float[] into)
    {
        if (into.Length != _model.Gradients.Length) throw new ArgumentException("gradient buffer length differs from the model's", nameof(into));
        ReadOnlySpan<byte> mask = default;
        if (_mask.Length > 0)
        {
            var m = _mask.AsSpan(0, batch.B * batch.T);
            BertMasks.Fill(m, batch.Id.Epoch, batch.SampleIndices, batch.T, _maskSeed);
            mask = m;
        }
        _model.ZeroGrad();
        float loss = _model.Forward(batch.Tokens, default, mask);
        _model.Backward();
        _model.Gradients.Data.CopyTo(into, 0);
        return new ShardGradient(into, loss, batch.B);
    }

    /// <summary>Nothing to release: the replica's slabs are managed arrays.</summary>
    public void Dispose() { }
}

/// <summary>
/// BERT masks (IGPT.md: each position masked with p = 0.15) as a pure function of (seed, epoch,
/// sample index): the same image in the same epoch gets the same mask however the batch is sharded.
/// </summary>
public static class BertMasks
{
    public const double Probability = 0.15;

    /// <summary>mask (B,T): 1 where position t of sample b is masked.</summary>
    public static void Fill(Span<byte> mask, long epoch, ReadOnlySpan<int> sampleIndices, int T, ulong seed)
    {
        for (int b = 0; b < sampleIndices.Length; b++)
        {
            var rng = SeededRandom.Derive(seed, 0xB0E7UL, (ulong)epoch, (ulong)sampleIndices[b]);
            var row = mask.Slice(b * T, T);
            for (int t = 0; t < T; t++) row[t] = rng.NextDouble() < Probability ? (byte)1 : (byte)0;
        }
    }
}
