using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;

namespace ImageGpt.Nn.Training;

/// <summary>
/// One trainer's model replica: turns a shard batch into that shard's gradient, in the layout of the
/// parameter slab it reads. Implemented by <see cref="ShardWorker"/> (our engine) and by
/// <see cref="Torch.TorchShardWorker"/> (libtorch); trainers get one from <see cref="ShardWorkers.Create"/>.
/// </summary>
public interface IShardWorker : IDisposable
{
    GptConfig Config { get; }

    /// <summary>Forward and backward on the shard with the current parameters; the gradient of the shard's mean loss is written into <paramref name="into"/>.</summary>
    ShardGradient Compute(ShardBatch batch, float[] into);
}
