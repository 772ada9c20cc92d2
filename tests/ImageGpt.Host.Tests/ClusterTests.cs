using System.Diagnostics;
using System.Globalization;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Commands;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Model;
using ImageGpt.Nn.Optim;
using ImageGpt.Nn.Training;
using Xunit.Abstractions;

namespace ImageGpt.Host.Tests;

/// <summary>
/// A run's cluster of real processes on 127.0.0.1: <c>imagegpt train</c> and <c>imagegpt node</c> children sharing the run
/// directory's SQLite store, with the failure detector, the split-brain resolver and the aggregator's lease shortened
/// (test settings only), the run of <see cref="ClusterRunArgs"/> with <paramref name="runSets"/> on top, of <paramref name="steps"/> steps.
/// </summary>
public abstract class ClusterProcessTests(ITestOutputHelper log, string[] runSets, int steps = ClusterRunArgs.Steps) : IDisposable
{
    /// <summary>The classes of these tests run one after the other: each starts three processes on a machine of two cores.</summary>
    public const string Collection = "cluster processes";

    private readonly List<Child> _children = [];

    protected string Root { get; } = Directory.CreateTempSubdirectory("igpt-cluster-").FullName;

    protected ITestOutputHelper Log => log;

    public void Dispose()
    {
        foreach (var child in _children) child.Dispose();
        Directory.Delete(Root, recursive: true);
    }

    private protected Child Start(string command, string runDir, params string[] extra)
    {
        var child = new Child(command, [.. ClusterRunArgs.Run, .. runSets, "--run-dir", runDir, .. extra], log);
        _children.Add(child);
        return child;
    }

    /// <summary>A node with the trainer role only and no data set (its data.dir does not exist: reading it would fail): its batches are streamed.</summary>
    private protected Child StartWithoutData(string runDir, string seed) =>
        Start("node", runDir, "--seed", seed, "--set", "akka.cluster.roles=[trainer]", "--set", $"data.dir={Path.Combine(Root, "no-data-set-here")}");

    /// <summary>Kill and join steps are drawn from this seed, printed; IMAGEGPT_KILL_SEED replays one.</summary>
    protected static int KillSeed() => int.TryParse(Environment.GetEnvironmentVariable("IMAGEGPT_KILL_SEED"), out int s) ? s : 20261130;

    protected int Steps => steps;

    protected byte[] Weights(string runDir) => File.ReadAllBytes(Path.Combine(runDir, $"step-{steps}.safetensors"));

    /// <summary>The node streamed its trainers' batches, and they came in time: the run never recomputed one of its shards, nor did its trainer build one itself.</summary>
    private protected static void Streamed(Child node, Child root)
    {
        Assert.Contains("data: this node has no data set; its trainers' batches are streamed from the data node at 127.0.0.1:", node.Output);
        Assert.DoesNotContain("[data]", node.Output);
        string trainer = System.Text.RegularExpressions.Regex.Match(node.Output, @"cluster: member \S+@(\S+) ").Groups[1].Value + "/trainer-0";
        Assert.DoesNotContain($"deadline on {trainer}", root.Output);
        Assert.DoesNotContain("its loader delivered nothing", node.Output);
    }
}

/// <summary>
/// Whatever joins, leaves or dies, <c>step-N.safetensors</c> must be the bytes of one process with two trainers, whose
/// weights are the plain loop's (<see cref="ClusterBaseline"/>). Kill steps are seeded and printed (IMAGEGPT_KILL_SEED replays one).
/// </summary>
[Collection(ClusterProcessTests.Collection)]
public sealed class ClusterTests(ClusterBaseline baseline, ITestOutputHelper log) : ClusterProcessTests(log, []), IClassFixture<ClusterBaseline>
{
    [Fact]
    public async Task Two_processes_with_one_trainer_each_write_the_bytes_of_one_process_with_two_trainers_and_a_node_without_the_secret_is_refused()
    {
        string dir = Path.Combine(Root, "two");
        // The run waits for two trainers (cluster.min-trainers), so both processes train from step 0.
        var train = Start("train", dir, "--set", "cluster.min-trainers=2");
        string seed = await train.Seed();
        var stranger = Start("node", dir, "--seed", seed, "--set", "run.secret=not-this-runs-secret-0123456789");
        Assert.Equal(2, await stranger.Exit());
        Assert.Contains("imagegpt node: error: the run refused this node: wrong run secret. HINT:", stranger.Errors);
        Assert.Single(stranger.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("imagegpt node: error:", StringComparison.Ordinal));

        var node = Start("node", dir, "--seed", seed);
        Assert.Equal(0, await train.Exit());
        Assert.Equal(0, await node.Exit());
        Assert.Contains("waiting for 2 trainers (cluster.min-trainers) before the first step: 1 registered", train.Output);
        Assert.Contains($"the run finished at step {ClusterRunArgs.Steps}", node.Output);
        Assert.Equal(baseline.Weights, Weights(dir));

        // imagegpt status shows the cluster as the root last saw it: both members Up and reachable, each with its trainer,
        // the root on the first one, one of them the leader (the lowest address); the stranger is gone.
        string root = System.Text.RegularExpressions.Regex.Match(train.Output, @"cluster: member (\S+) ").Groups[1].Value;
        string other = System.Text.RegularExpressions.Regex.Match(node.Output, @"cluster: member (\S+) ").Groups[1].Value;
        var status = new StringWriter();
        Assert.Equal(0, StatusCommand.Run(["--run-dir", dir], status));
        string text = status.ToString();
        string[] lines = text.Split('\n');
        static int Port(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        string leader = Port(root) < Port(other) ? root : other;
        Assert.True(lines.Any(l => l == $"cluster of 2 member(s), as the run's root sees it (leader {leader}; the root, the aggregator singleton, on {root}):"), text);
        Assert.True(lines.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l,
            $@"^  {System.Text.RegularExpressions.Regex.Escape(root)} +aggregator, data, trainer +Up +yes +{(leader == root ? "yes" : "-")} +yes +trainer-0$")), $"{root}:\n{text}");
        Assert.True(lines.Any(l => System.Text.RegularExpressions.Regex.IsMatch(l,
            $@"^  {System.Text.RegularExpressions.Regex.Escape(other)} +aggregator, data, trainer +Up +yes +{(leader == other ? "yes" : "-")} +- +trainer-0$")), $"{other}:\n{text}");
    }

    [Fact]
    public async Task A_trainer_node_killed_with_SIGKILL_at_a_seeded_step_costs_no_step_and_changes_no_weight()
    {
        int seed = KillSeed();
        int k = new Random(seed).Next(3, 20);
        Log.WriteLine($"kill seed {seed}: the trainer node is killed at step {k}");
        string dir = Path.Combine(Root, "trainer-killed");
        var train = Start("train", dir, "--set", "cluster.min-trainers=2");
        var node = Start("node", dir, "--seed", await train.Seed(), "--set", "akka.cluster.roles=[trainer, data]");
        await train.Line(l => l.StartsWith($"step {k}/", StringComparison.Ordinal));
        node.Kill();
        Assert.Equal(0, await train.Exit());
        Assert.Equal(baseline.Weights, Weights(dir));
        // No step waited longer than the step deadline plus the time to find the node dead (slack for a loaded machine).
        var elapsed = File.ReadLines(Path.Combine(dir, "metrics.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[8], CultureInfo.InvariantCulture)).ToList();
        double longest = elapsed.Zip(elapsed.Skip(1), (a, b) => b - a).Max();
        double bound = ClusterRunArgs.StepDeadline + ClusterRunArgs.DetectorPause + ClusterRunArgs.StableAfter + 10;
        Assert.True(longest < bound, $"a step took {longest:F1} s, more than the deadline plus the failure detector ({bound} s) (kill seed {seed})");
    }

    [Fact]
    public async Task The_aggregators_node_killed_with_SIGKILL_hands_the_run_to_the_survivor_which_ends_it_with_the_same_weights()
    {
        int seed = KillSeed() + 1;
        int k = new Random(seed).Next(3, 20);
        Log.WriteLine($"kill seed {seed}: the aggregator's node is killed at step {k}");
        string dir = Path.Combine(Root, "aggregator-killed");
        var train = Start("train", dir, "--set", "cluster.min-trainers=2");
        var node = Start("node", dir, "--seed", await train.Seed());
        await train.Line(l => l.StartsWith($"step {k}/", StringComparison.Ordinal));
        train.Kill();
        Assert.Equal(0, await node.Exit());
        Assert.Contains($"the run finished at step {ClusterRunArgs.Steps}", node.Output);
        Assert.Equal(baseline.Weights, Weights(dir));
        var history = await RunFiles.HistoryAsync(dir);
        var resumed = Assert.Single(history.Resumes);
        Assert.True(resumed.Epoch >= 2, $"the survivor's root holds lease epoch {resumed.Epoch}");
        Assert.IsType<RunFinished>(history.Ended);
    }
}

/// <summary>The cluster tests' run (<see cref="ClusterRunArgs"/>) trained once by one process with two trainers, and checked against the plain loop.</summary>
public class ClusterBaseline : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-cluster-baseline-").FullName;

    public ClusterBaseline() : this([], ClusterRunArgs.Steps)
    {
    }

    /// <summary>The run with <paramref name="runSets"/> (--set pairs, <paramref name="steps"/> steps) on top of <see cref="ClusterRunArgs.Run"/>.</summary>
    protected ClusterBaseline(string[] runSets, int steps)
    {
        string runDir = Path.Combine(_dir, "one-process");
        int exit = TrainCommand.RunAsync([.. ClusterRunArgs.Run, .. runSets, "--run-dir", runDir, "--set", "runtime.trainers=2"], new StringWriter(), interactive: false).GetAwaiter().GetResult();
        if (exit != 0) throw new InvalidOperationException($"the baseline run exited {exit}");
        Weights = File.ReadAllBytes(Path.Combine(runDir, $"step-{steps}.safetensors"));
        var trained = RunFiles.LatestAsync(runDir).GetAwaiter().GetResult();
        var plain = PlainLoop(runDir, runSets);
        if (!plain.AsSpan().SequenceEqual(trained.Parameters))
            throw new InvalidOperationException("one process with two trainers does not give the plain loop's weights");
    }

    /// <summary>step-N.safetensors of one process with two trainers.</summary>
    public byte[] Weights { get; }

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>ReferenceTraining on the run's data and palette.</summary>
    private static float[] PlainLoop(string runDir, string[] runSets)
    {
        var reference = ConfigFactory.ParseFile(ConfigCommand.FindReference());
        string[] run = [.. ClusterRunArgs.Run, .. runSets];
        var config = RunConfigLoader.FromResolved(RunConfigLoader.Layer(reference, run[1], ClusterRunArgs.Sets(run)).Resolve(), reference.Resolve(), runDir);
        var palette = Nn.Palette.Palette.FromJson(File.ReadAllText(Path.Combine(runDir, "palette.json")), "palette.json");
        var inputs = RunData.Prepare(config, palette, TextWriter.Null);
        var parameters = new ParameterSlab(config.Model);
        new Gpt(config.Model, 1, parameters).Init();
        var t = config.Train;
        var optimizer = new OptimizerStep(parameters, new LrSchedule(t.Lr, t.Warmup, t.Steps), (float)t.Beta1, (float)t.Beta2, (float)t.WeightDecay, (float)t.Clip);
        ReferenceTraining.Run(optimizer, new BatchSampler(inputs.Train, t.Batch, t.Shards, t.Seed), new ShardWorker(parameters, t.Batch, 1, config.Model.Seed), 0, t.Steps);
        return parameters.Data;
    }
}

/// <summary>An imagegpt child process whose output lines are kept and awaited (every wait bounded).</summary>
internal sealed class Child : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly System.Text.StringBuilder _errors = new();
    private readonly ITestOutputHelper _log;
    private readonly string _name;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Child(string command, string[] args, ITestOutputHelper log)
    {
        _log = log;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imagegpt.dll"));
        psi.ArgumentList.Add(command);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
        _name = $"{command} (pid {_process.Id})";
        _process.OutputDataReceived += (_, e) => Add(e.Data, error: false);
        _process.ErrorDataReceived += (_, e) => Add(e.Data, error: true);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Add(string? line, bool error)
    {
        if (line is null) return;
        TaskCompletionSource changed;
        lock (_lines)
        {
            _lines.Add(line);
            if (error) _errors.AppendLine(line);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

    public string Errors { get { lock (_lines) return _errors.ToString(); } }

    /// <summary>The first line (stdout or stderr) that matches; fails after the patience, or when the child exits without one.</summary>
    public async Task<string> Line(Func<string, bool> match)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                if (_lines.FirstOrDefault(match) is { } line) return line;
                changed = _changed.Task;
            }
            if (_process.HasExited) await _process.WaitForExitAsync();
            lock (_lines)
                if (_process.HasExited && !_lines.Any(match)) throw new Xunit.Sdk.XunitException($"{_name} exited {_process.ExitCode} without the line awaited:\n{string.Join('\n', _lines)}");
            var left = Patience - clock.Elapsed;
            if (left <= TimeSpan.Zero) throw new Xunit.Sdk.XunitException($"{_name}: the line awaited did not come within {Patience.TotalMinutes} min:\n{Output}");
            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(200)));
        }
    }

    /// <summary>The host:port imagegpt train prints for nodes to join.</summary>
    public async Task<string> Seed()
    {
        string line = await Line(l => l.Contains("--seed ", StringComparison.Ordinal));
        return line[(line.LastIndexOf("--seed ", StringComparison.Ordinal) + "--seed ".Length)..].Trim();
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM, as a Ctrl-C or a service manager would stop it.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    public async Task<int> Exit()
    {
        using var timeout = new CancellationTokenSource(Patience);
        try { await _process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { throw new Xunit.Sdk.XunitException($"{_name} did not end within {Patience.TotalMinutes} min:\n{Output}"); }
        _process.WaitForExit();
        _log.WriteLine($"--- {_name} exited {_process.ExitCode}:\n{Output}");
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}

/// <summary>
/// Three processes with one trainer each, one of them without the data set: a run of four shards (so that every trainer
/// has a home shard) and 30 steps must write the bytes of one process with two trainers (<see cref="FourShardBaseline"/>,
/// the plain loop's weights), whether the three start together or the trainers change after a seeded step.
/// </summary>
[Collection(ClusterProcessTests.Collection)]
public sealed class ClusterScaleTests(FourShardBaseline baseline, ITestOutputHelper log)
    : ClusterProcessTests(log, FourShardBaseline.RunSets, FourShardBaseline.Steps), IClassFixture<FourShardBaseline>
{
    [Fact]
    public async Task Three_processes_with_one_trainer_each_one_without_the_data_set_write_the_bytes_of_one_process_with_two_trainers()
    {
        string dir = Path.Combine(Root, "three");
        var train = Start("train", dir, "--set", "cluster.min-trainers=3");
        string seed = await train.Seed();
        var node = Start("node", dir, "--seed", seed);
        var streamed = StartWithoutData(dir, seed);
        Assert.Equal(0, await train.Exit());
        Assert.Equal(0, await node.Exit());
        Assert.Equal(0, await streamed.Exit());
        Assert.Contains("warning: from step 0 the run has 3 trainer(s)", train.Output);
        Assert.Contains($"the run finished at step {Steps}", streamed.Output);
        Streamed(streamed, train);
        Assert.Equal(baseline.Weights, Weights(dir));
    }

    [Fact]
    public async Task A_node_without_the_data_set_started_once_the_run_has_passed_a_seeded_step_takes_it_to_the_end_with_the_same_weights()
    {
        int seed = KillSeed() + 2;
        int k = new Random(seed).Next(3, Steps / 2);
        Log.WriteLine($"kill seed {seed}: the trainer node leaves after step {k}, then a node without the data set joins");
        string dir = Path.Combine(Root, "joined");
        // The root's process has no trainer, so the run waits for the joining node whatever the machine's speed.
        var train = Start("train", dir, "--set", "akka.cluster.roles=[aggregator, data]");
        string at = await train.Seed();
        var node = Start("node", dir, "--seed", at, "--set", "akka.cluster.roles=[trainer, data]");
        await train.Line(l => l.StartsWith($"step {k}/", StringComparison.Ordinal));
        node.Terminate();
        Assert.Equal(130, await node.Exit());
        string waiting = await train.Line(l => l.Contains("no trainer is left; waiting for one to join", StringComparison.Ordinal));
        int from = int.Parse(System.Text.RegularExpressions.Regex.Match(waiting, @"step (\d+):").Groups[1].Value, CultureInfo.InvariantCulture);
        // Step k (counted from 0) was in flight at the signal: the root waits from it when the node left before finishing
        // it (the step starts over on the joiner), from a later one when the node's last shards came in first.
        Assert.InRange(from, k, Steps - 1);
        var joiner = StartWithoutData(dir, at);
        Assert.Equal(0, await train.Exit());
        Assert.Equal(0, await joiner.Exit());
        // Only the joiner's trainer was left to compute steps `from` to the end.
        Assert.Contains($"the run finished at step {Steps}", joiner.Output);
        Streamed(joiner, train);
        Assert.Equal(baseline.Weights, Weights(dir));
    }
}

/// <summary>
/// The cluster run with four shards and 30 steps, trained once by one process with two trainers and checked against the plain
/// loop. Nothing is killed in its tests (a node leaves on SIGTERM), so the failure detector keeps a long bound: a member
/// stalled for seconds on a loaded machine is not downed.
/// </summary>
public sealed class FourShardBaseline() : ClusterBaseline(RunSets, Steps)
{
    public const int Steps = 30;

    public static readonly string[] RunSets =
    [
        "--set", "train.shards=4", "--set", $"train.steps={Steps}",
        "--set", "akka.cluster.failure-detector.acceptable-heartbeat-pause=20s",
    ];
}
