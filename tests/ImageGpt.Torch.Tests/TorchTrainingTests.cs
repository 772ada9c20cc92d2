using ImageGpt.Nn;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Torch;
using ImageGpt.Nn.Training;
using Xunit.Abstractions;

namespace ImageGpt.Torch.Tests;

/// <summary>
/// The torch backend as a trainer: its shard gradients against ours, training runs through our optimizer
/// on each backend, weights crossing between the engines in safetensors, and the factory's devices.
/// </summary>
public sealed class TorchTrainingTests(ITestOutputHelper output) : IDisposable
{
    private const int Images = 64, Batch = 8, Shards = 2;
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-torch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static GptConfig Model(Objective objective) => new(2, 32, 2, 16, 6, 0, objective, 7);


    private static ParameterSlab Initial(GptConfig c)
    {
        var p = new ParameterSlab(c);
        new Gpt(c, 1, p).Init();
        return p;
    }

    private static (IReadOnlyList<StepStats> Stats, ParameterSlab Weights) Train(GptConfig c, ComputeBackend backend, int steps, int threads = 1)
    {
        var parameters = Initial(c);
        var optimizer = new OptimizerStep(parameters, new LrSchedule(3e-3, Math.Min(3, steps - 1), steps), 0.9f, 0.95f, 0f, 1f);
        var sampler = new BatchSampler(RampImages.Make(c, Images), Batch, Shards, 5);
        using var worker = ShardWorkers.Create(backend, ComputeDevice.Cpu, 0, parameters, Batch, threads, c.Seed);
        return (ReferenceTraining.Run(optimizer, sampler, worker, 0, steps), parameters);
    }

    [Theory]
    [InlineData(Objective.Autoregressive)]
    [InlineData(Objective.Bert)]
    public void A_shard_gives_the_same_gradient_on_both_backends_with_the_same_bert_masks(Objective objective)
    {
        var c = Model(objective);
        var parameters = TorchParityTests.RandomWeights(c, 3);
        var shard = new BatchSampler(RampImages.Make(c, Images), Batch, Shards, 5).Shard(new ShardId(1, 2, 1));
        using var nn = ShardWorkers.Create(ComputeBackend.Nn, ComputeDevice.Cpu, 0, parameters, Batch, 1, c.Seed);
        using var torch = ShardWorkers.Create(ComputeBackend.Torch, ComputeDevice.Cpu, 0, parameters, Batch, 1, c.Seed);
        Assert.IsType<TorchShardWorker>(torch);
        var expected = nn.Compute(shard, new float[parameters.Length]);
        var actual = torch.Compute(shard, new float[parameters.Length]);
        Assert.Equal(expected.Images, actual.Images);
        Assert.True(Compare.Relative(actual.Loss, expected.Loss) <= 1e-5, $"loss {actual.Loss} vs {expected.Loss}");
        Assert.True(Compare.Relative(actual.Gradients, expected.Gradients) <= 1e-5);
        // A second shard through the same torch worker: no gradient is left over from the first.
        var again = torch.Compute(shard, new float[parameters.Length]);
        Assert.Equal(actual.Gradients, again.Gradients);
    }

    [Theory]
    [InlineData(Objective.Autoregressive, 1)]
    [InlineData(Objective.Bert, 1)]
    [InlineData(Objective.Autoregressive, 2)]
    public void Twenty_steps_through_our_optimizer_stay_within_tolerance_on_either_backend(Objective objective, int torchThreads)
    {
        var c = Model(objective);
        const int Steps = 20;
        var (nnStats, nnWeights) = Train(c, ComputeBackend.Nn, Steps);
        var (torchStats, torchWeights) = Train(c, ComputeBackend.Torch, Steps, torchThreads);
        double worstLoss = 0;
        for (int s = 0; s < Steps; s++)
        {
            worstLoss = Math.Max(worstLoss, Compare.Relative(torchStats[s].Loss, nnStats[s].Loss));
            Assert.Equal(nnStats[s].Lr, torchStats[s].Lr);
        }
        double weights = Compare.Relative(torchWeights.Data, nnWeights.Data);
        output.WriteLine($"{objective}, libtorch threads {torchThreads}: loss {nnStats[0].Loss:F4} -> {nnStats[^1].Loss:F4}; worst step loss {worstLoss:E2}, weights {weights:E2}");
        Assert.True(nnStats[^1].Loss < nnStats[0].Loss - 0.1, "the loss should fall, or the run tests nothing");
        // Measured here: losses within 2e-7, weights within 1.1e-6 of their scale; the tolerances are 50-100x that.
        // Adam moves a weight by about lr whatever its gradient's size, so a gradient element near zero whose sign
        // differs between the engines would show as a jump far above both: this test would name it.
        Assert.True(worstLoss <= 1e-5, $"a step's loss differs by {worstLoss:E2}");
        Assert.True(weights <= 1e-4, $"the weights after {Steps} steps differ by {weights:E2} of their scale");
    }

    /// <summary>Routes even shards to one worker and odd shards to the other, as trainers of two backends serving one run would.</summary>
    private sealed class MixedWorkers(IShardWorker even, IShardWorker odd) : IShardWorker
    {
        public GptConfig Config => even.Config;
        public ShardGradient Compute(ShardBatch batch, float[] into) => (batch.Id.Shard % 2 == 0 ? even : odd).Compute(batch, into);
        public void Dispose() { even.Dispose(); odd.Dispose(); }
    }

    [Fact]
    public void Trainers_of_both_backends_can_serve_one_run()
    {
        var c = Model(Objective.Autoregressive);
        const int Steps = 10;
        var (nnStats, nnWeights) = Train(c, ComputeBackend.Nn, Steps);
        var parameters = Initial(c);
        var optimizer = new OptimizerStep(parameters, new LrSchedule(3e-3, 3, Steps), 0.9f, 0.95f, 0f, 1f);
        var sampler = new BatchSampler(RampImages.Make(c, Images), Batch, Shards, 5);
        using var mixed = new MixedWorkers(
            ShardWorkers.Create(ComputeBackend.Nn, ComputeDevice.Cpu, 0, parameters, Batch, 1, c.Seed),
            ShardWorkers.Create(ComputeBackend.Torch, ComputeDevice.Cpu, 1, parameters, Batch, 1, c.Seed));
        var stats = ReferenceTraining.Run(optimizer, sampler, mixed, 0, Steps);
        Assert.NotEqual(nnWeights.Data, parameters.Data);
        Assert.True(Compare.Relative(parameters.Data, nnWeights.Data) <= 1e-4);
        Assert.True(Compare.Relative(stats[^1].Loss, nnStats[^1].Loss) <= 1e-5);
    }

    [Fact]
    public void Safetensors_written_from_either_engine_load_in_the_other()
    {
        var c = Model(Objective.Autoregressive);
        var (_, trained) = Train(c, ComputeBackend.Torch, 3);
        var (tokens, mask) = TorchParityTests.RandomBatch(c, 2, 11);

        // libtorch's tensors -> safetensors -> our engine.
        string fromTorch = Path.Combine(_dir, "torch.safetensors");
        using (var model = new TorchGpt(c, TorchSharp.torch.CPU))
        {
            model.Load(trained);
            var stored = new ParameterSlab(c);
            model.Store(stored);
            Assert.Equal(trained.Data, stored.Data);
            SafeTensors.Save(fromTorch, stored);
        }
        var inOurs = SafeTensors.Load(fromTorch);
        Assert.Equal(c, inOurs.Config);
        Assert.Equal(trained.Data, inOurs.Data);

        // our engine -> safetensors -> libtorch's tensors: the same weights give the same loss.
        string fromNn = Path.Combine(_dir, "nn.safetensors");
        SafeTensors.Save(fromNn, inOurs);
        var inTorch = Passes.Torch(SafeTensors.Load(fromNn), tokens, mask);
        var ours = Passes.Nn(inOurs, tokens, mask);
        Assert.True(Compare.Relative(inTorch.Loss, ours.Loss) <= 1e-5);
        Assert.True(Compare.Relative(inTorch.Logits, ours.Logits) <= 1e-5);
    }

    [Fact]
    public void Bert_with_nothing_masked_has_zero_loss_and_zero_gradients_in_both_engines()
    {
        var c = Model(Objective.Bert);
        var weights = TorchParityTests.RandomWeights(c, 5);
        var tokens = TorchParityTests.RandomBatch(c, 2, 5).Tokens;
        var none = new byte[tokens.Length];
        var ours = Passes.Nn(weights, tokens, none);
        var torch = Passes.Torch(weights, tokens, none);
        Assert.Equal(0f, ours.Loss);
        Assert.Equal(0f, torch.Loss);
        Assert.All(torch.Gradients, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Cuda_where_there_is_none_is_one_line_naming_what_was_found()
    {
        var p = new ParameterSlab(Model(Objective.Autoregressive));
        foreach (var device in new[] { "cuda", "cuda:1" })
        {
            Assert.True(ComputeDevice.TryParse(device, out var d));
            var e = Assert.Throws<UserError>(() => ShardWorkers.Create(ComputeBackend.Torch, d, 0, p, 1, 1, 1));
            Assert.DoesNotContain('\n', e.Message);
            Assert.StartsWith($"runtime.device = {device} but libtorch ", e.Message);
            Assert.Contains("finds no CUDA device", e.Message);
            Assert.Contains("HINT:", e.Message);
        }
        var nn = Assert.Throws<UserError>(() => ShardWorkers.Create(ComputeBackend.Nn, new ComputeDevice(true, 0), 0, p, 1, 1, 1));
        Assert.Contains("needs runtime.backend = torch", nn.Message);
    }
}
