using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGpt.Nn.Torch;

/// <summary>
/// A trainer's replica in libtorch. Each shard it copies the current parameters from the slab it reads
/// (the aggregator's, which change only between steps) onto its device, runs forward and backward there,
/// and copies the gradient back into the slab's layout: the aggregator, the optimizer and the checkpoints
/// stay ours, so trainers of both backends can serve one run. BERT masks come from <see cref="BertMasks"/>,
/// the same masks <see cref="ShardWorker"/> draws.
/// </summary>
public sealed class TorchShardWorker : IShardWorker
{
    private readonly ParameterSlab _parameters;
    private readonly TorchGpt _model;
    private readonly int _threads;
    private readonly ulong _maskSeed;
    private readonly byte[] _mask;
    private readonly int _capacity;

    /// <param name="device">"cpu" or one GPU ("cuda:N"); see <see cref="ComputeDevice.ForTrainer"/>.</param>
    /// <param name="threads">libtorch's intra-op threads on this worker's compute thread.</param>
    public TorchShardWorker(ParameterSlab parameters, ComputeDevice device, int batchCapacity, int threads, ulong maskSeed)
    {
        if (device.Cuda && device.Index is null) throw new ArgumentException("a worker computes on one device: resolve \"cuda\" with ForTrainer first", nameof(device));
        if (batchCapacity < 1) throw new ArgumentOutOfRangeException(nameof(batchCapacity), "batch capacity must be positive");
        LibTorch.CheckDevice(device);
        _parameters = parameters;
        _model = new TorchGpt(parameters.Config, LibTorch.Device(device));
        _threads = threads;
        _maskSeed = maskSeed;
        _capacity = batchCapacity;
        _mask = new byte[parameters.Config.Objective == Objective.Bert ? batchCapacity * parameters.Config.Seq : 0];
    }

    public GptConfig Config => _model.Config;

    public ShardGradient Compute(ShardBatch batch, float[] into)
    {
        if (into.Length != _parameters.Length) throw new ArgumentException("gradient buffer length differs from the model's", nameof(into));
        int B = batch.B, T = batch.T, BT = B * T;
        if (T != Config.Seq || B > _capacity) throw new ArgumentException($"batch of {B}x{T} does not fit this worker", nameof(batch));
        LibTorch.UseThreads(_threads);
        using var scope = NewDisposeScope();
        // libtorch copies host arrays into its own memory (and onto the GPU): these arrays are the upload.
        var ids = new long[BT];
        for (int i = 0; i < BT; i++) ids[i] = batch.Tokens[i];
        var tokens = tensor(ids, [B, T], ScalarType.Int64, _model.Device);
        Tensor? mask = null;
        if (_mask.Length > 0)
        {
            var m = _mask.AsSpan(0, BT);
            BertMasks.Fill(m, batch.Id.Epoch, batch.SampleIndices, T, _maskSeed);
            mask = tensor(m.ToArray(), [B, T], ScalarType.Byte, _model.Device).to_type(ScalarType.Bool);
        }
        _model.Load(_parameters);
        _model.ZeroGrad();
        var loss = _model.Loss(_model.Logits(tokens, mask), tokens, mask);
        loss.backward();
        _model.StoreGradients(_parameters, into);
        return new ShardGradient(into, loss.item<float>(), B);
    }

    public void Dispose() => _model.Dispose();
}
