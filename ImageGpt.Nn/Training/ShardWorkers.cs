using ImageGpt.Nn.Model;
using ImageGpt.Nn.Torch;

namespace ImageGpt.Nn.Training;

/// <summary>The one place a trainer gets its model replica from: the configured backend on the configured device.</summary>
public static class ShardWorkers
{
    /// <summary>
    /// A worker for trainer <paramref name="trainer"/> (its index among the run's trainers: with
    /// runtime.device = cuda, trainer i computes on GPU i mod the GPU count).
    /// </summary>
    /// <param name="parameters">The slab the worker reads before each shard (in one process: the aggregator's).</param>
    /// <param name="batchCapacity">Largest shard, in images.</param>
    /// <param name="threads">Kernel threads of the worker.</param>
    /// <param name="maskSeed">Seed of the BERT masks (the model seed).</param>
    public static IShardWorker Create(ComputeBackend backend, ComputeDevice device, int trainer,
        ParameterSlab parameters, int batchCapacity, int threads, ulong maskSeed)
    {
        if (backend == ComputeBackend.Nn)
        {
            if (device.Cuda)
                throw new UserError($"runtime.device = {device} needs runtime.backend = torch. HINT: our engine runs on the CPU; set runtime.backend = torch for GPUs, or runtime.device = cpu");
            return new ShardWorker(parameters, batchCapacity, threads, maskSeed);
        }
        int gpus = LibTorch.CheckDevice(device);
        return new TorchShardWorker(parameters, device.ForTrainer(trainer, gpus), batchCapacity, threads, maskSeed);
    }
}
