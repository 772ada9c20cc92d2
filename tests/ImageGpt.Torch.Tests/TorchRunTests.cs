using ImageGpt.Actors.Training;
using ImageGpt.Host.Commands;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.IO;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Training;

namespace ImageGpt.Torch.Tests;

/// <summary>
/// Runs with runtime.backend = torch through the actor system: `imagegpt train` end to end on Fashion-MNIST
/// (installed by .ci/run), and a run stopped on one backend and resumed on the other.
/// </summary>
public sealed class TorchRunTests : IDisposable
{
    /// <summary>As in <see cref="TorchTrainingTests"/>: measured far below; Adam's near-zero gradients would show far above.</summary>
    private const double WeightTolerance = 1e-4;
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-torch-run-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Repo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ImageGpt.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    private static string[] Tiny(string runDir, params string[] extra) =>
    [
        "--config", Path.Combine(Repo(), "hocon", "fashion-mnist.conf"), "--run-dir", runDir,
        "--set", "model.layers=2", "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.side=8",
        "--set", "data.limit=512", "--set", "train.batch=16", "--set", "train.shards=2", "--set", "train.steps=30",
        "--set", "train.warmup=5", "--set", "checkpoint.every=10", "--set", "eval.enabled=false",
        "--set", "log.every=10", "--set", "runtime.trainers=2", .. extra,
    ];

    private static async Task<(int Exit, string Output)> Train(string[] args)
    {
        var output = new StringWriter();
        int exit = await TrainCommand.RunAsync(args, output, interactive: false);
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Imagegpt_train_with_the_torch_backend_ends_within_tolerance_of_nn_and_its_run_resumes_on_nn()
    {
        string nnDir = Path.Combine(_root, "nn"), torchDir = Path.Combine(_root, "torch");
        var (nnExit, _) = await Train(Tiny(nnDir));
        var (torchExit, torchOutput) = await Train(Tiny(torchDir, "--set", "runtime.backend=torch"));
        Assert.Equal(0, nnExit);
        Assert.Equal(0, torchExit);
        Assert.Contains("2 trainers x 1 thread, backend torch on cpu", torchOutput);
        Assert.Contains("finished at step 30/30", torchOutput);

        var nnWeights = SafeTensors.Load(CheckpointWriter.WeightsPath(nnDir, 30));
        var torchWeights = SafeTensors.Load(CheckpointWriter.WeightsPath(torchDir, 30));
        Assert.Equal(nnWeights.Config, torchWeights.Config);
        double difference = Compare.Relative(torchWeights.Data, nnWeights.Data);
        // Not the same bits: libtorch rounds in its own order, so equal bits would mean its trainers never ran.
        Assert.NotEqual(nnWeights.Data, torchWeights.Data);
        Assert.True(difference <= WeightTolerance, $"after 30 steps the torch run's weights differ from nn's by {difference:E2} of their scale");

        // The backend is not part of the run's identity: the torch run's checkpoint is taken up by nn.
        var (resumeExit, resumeOutput) = await Train(Tiny(torchDir, "--resume"));
        Assert.Equal(0, resumeExit);
        Assert.Contains("already complete", resumeOutput);
    }

    [Theory]
    [InlineData("cuda", "finds no CUDA device")]
    [InlineData("cuda:1", "finds no CUDA device")]
    public async Task Imagegpt_train_on_cuda_where_there_is_none_prints_one_line_naming_what_was_found_and_exits_2(string device, string found)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imagegpt.dll"));
        psi.ArgumentList.Add("train");
        foreach (var a in Tiny(Path.Combine(_root, "cuda"), "--set", "runtime.backend=torch", "--set", $"runtime.device=\"{device}\"")) psi.ArgumentList.Add(a);
        using var child = System.Diagnostics.Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        string stderr = await child.StandardError.ReadToEndAsync();
        Assert.True(child.WaitForExit(60_000), "imagegpt did not exit within 60 s");
        await stdout;
        Assert.Equal(2, child.ExitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"imagegpt train: error: config 'runtime.device' = {device} at --set", line);
        Assert.Contains(found, line);
        Assert.Contains("HINT:", line);
        Assert.False(Directory.Exists(Path.Combine(_root, "cuda")), "a refused run must not create its directory");
    }

    private const int Images = 64, Batch = 8, Shards = 2, Steps = 12;
    private static readonly GptConfig Model = new(2, 16, 2, 8, 6, 0, Objective.Autoregressive, 7);


    private RunConfig Config(ComputeBackend backend) => new(
        Model,
        new DataSettings("fashion-mnist", null, 0, 0.1, 1, 8, 1000, 10, 1),
        new TrainSettings(Batch, Shards, 3e-3, 3, Steps, 0.9, 0.95, 0, 1.0, 5),
        new RuntimeSettings(2, 1, 2, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), 10, backend, ComputeDevice.Cpu),
        new CheckpointSettings(5, 0, "sqlite", "", ExportSafetensors: false),
        new EvalSettings(false, 0, 0, 0, 0, 0, 0, 1, 1, [1.0]),
        new LogSettings(1),
        _root);

    private sealed class StopAt(long step, CancellationTokenSource stop) : ITrainingObserver
    {
        public void Step(StepReport report) { if (report.Step == step) stop.Cancel(); }
        public void CheckpointSaved(long step, double seconds, bool final) { }
        public void Evaluation(EvalResult result, string table) { }
        public void Warning(string message) { }
    }

    private static Task<TrainingOutcome> Run(RunConfig c, IRunStore store, Checkpoint? resume, ITrainingObserver observer, CancellationToken stop = default) =>
        TrainingRun.RunAsync(c, new TrainingInputs(RampImages.Make(Model, Images), new Nn.Palette.Palette(1, [-0.9f, -0.6f, -0.3f, 0f, 0.2f, 0.4f, 0.6f, 0.9f]), null),
            store, resume, "{\"identity\":1}", observer, null, stop);

    [Theory]
    [InlineData(ComputeBackend.Torch, ComputeBackend.Nn)]
    [InlineData(ComputeBackend.Nn, ComputeBackend.Torch)]
    public async Task A_run_stopped_on_one_backend_resumes_on_the_other(ComputeBackend first, ComputeBackend second)
    {
        await using var straightStore = OpenStore("straight");
        var straight = await Run(Config(ComputeBackend.Nn) with { RunDir = Path.Combine(_root, "straight") }, straightStore, null, new StopAt(-1, new()));

        await using var store = OpenStore("switched");
        using var stop = new CancellationTokenSource();
        var stopped = await Run(Config(first) with { RunDir = Path.Combine(_root, "switched") }, store, null, new StopAt(5, stop), stop.Token);
        Assert.True(stopped.Stopped);
        Assert.InRange(stopped.Step, 5, Steps - 1);
        var checkpoint = (await store.LoadLatestCheckpointAsync(_ => { }))!;
        Assert.Equal(stopped.Step, checkpoint.Step);

        var resumed = await Run(Config(second) with { RunDir = Path.Combine(_root, "switched") }, store, checkpoint, new StopAt(-1, new()));
        Assert.Null(resumed.Error);
        Assert.Equal(Steps, resumed.Step);
        double difference = Compare.Relative(resumed.Parameters.Data, straight.Parameters.Data);
        Assert.NotEqual(straight.Parameters.Data, resumed.Parameters.Data);
        Assert.True(difference <= WeightTolerance, $"{first} then {second} ends {difference:E2} of the weights' scale from an nn run");
    }

    private IRunStore OpenStore(string name)
    {
        string dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        return SqlRunStore.Open(new CheckpointSettings(5, 0, "sqlite", "", false), dir);
    }
}
