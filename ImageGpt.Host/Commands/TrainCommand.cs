using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn;
using ImageGpt.Nn.Model;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt train [--config FILE] [--set k=v ...] [--run-dir DIR] [--resume]</c>: the main job
/// (without --config: hocon/fashion-mnist.conf, the default run).
/// Reads and checks the config, opens the run's store, reads the run's history (refusing to start over an existing run
/// unless --resume), prepares the data, founds the run's cluster (it prints how <c>imagegpt node</c> adds members), runs
/// the run to the last step and prints the evaluations.
/// Ctrl-C and SIGTERM run Akka's coordinated shutdown, whose first task stops the whole run: its root finishes the step
/// and writes the final checkpoint.
/// Exit codes: 0 finished, 1 the run failed, 2 bad input, 130 stopped by Ctrl-C/SIGTERM (resumable).
/// </summary>
public static class TrainCommand
{
    private static readonly Option<string?> ConfigPath = ConfigCommand.ConfigFile("hocon/fashion-mnist.conf, the default run");
    private static readonly Option<string[]> Overrides = ConfigCommand.SetOption();
    private static readonly Option<string?> RunDir = Cli.Optional("--run-dir", "the run directory (default: run.dir of the config, runs/fashion-mnist for the default run)", "DIR");
    private static readonly Option<bool> Resume = Cli.Flag("--resume", "continue the run from its newest verified checkpoint");
    private static readonly Option<int?> Dashboard = LiveDashboard.PortOption();
    private static readonly Option<string> DashboardBind = LiveDashboard.BindOption();

    public static Command Definition { get; } = Cli.Command("train", "the main job: pretrain with actors, checkpoints and evaluations in the run directory",
        ConfigPath, Overrides, RunDir, Resume, Dashboard, DashboardBind);

    static TrainCommand() => Definition.SetAction(r => RunAsync(r, Console.Out, !Console.IsOutputRedirected).GetAwaiter().GetResult());

    public static Task<int> RunAsync(string[] rest, TextWriter output, bool interactive) => RunAsync(Cli.Parse(Definition, rest), output, interactive);

    private static async Task<int> RunAsync(ParseResult args, TextWriter output, bool interactive)
    {
        string? file = args.GetValue(ConfigPath);
        var sets = args.GetValue(Overrides) ?? [];
        string? runDirOverride = args.GetValue(RunDir);
        bool resume = args.GetValue(Resume);
        var dashboard = LiveDashboard.Parse(args, Dashboard, DashboardBind);
        string[] rest = Cli.Arguments(args);

        string referencePath = ConfigCommand.FindReference();
        file ??= DefaultRun(referencePath);
        output.WriteLine($"config: {file}");
        var reference = ConfigFactory.ParseFile(referencePath);
        var resolved = RunConfigLoader.Layer(reference, file, sets).Resolve();
        var config = RunConfigLoader.FromResolved(resolved, reference.Resolve(), runDirOverride);
        string identity = RunConfigLoader.IdentityJson(config);
        output.WriteLine(RunConfigLoader.Describe(config));

        string runDir = config.RunDir;
        // A sweep's store holds the sweep's history under the sweep's id and its values' runs: imagegpt sweep trains them.
        if (SweepFiles.SweepDirectoryOf(runDir) is { } sweep)
            throw new UserError($"{runDir} is {(File.Exists(Path.Combine(runDir, SweepFiles.Json)) ? "a sweep's directory" : $"a value's folder of the sweep in {sweep}")}, whose runs imagegpt sweep trains. HINT: run the sweep's command again to resume it, or pass another --run-dir");
        // The store first: an unreachable or damaged one fails before anything is written (SQLite creates the run directory).
        await using var store = RunStore.Open(config.Checkpoint, runDir);
        CheckRunDirectory(runDir);
        var clusterOptions = ClusterNode.Options(config, resolved, seeds: []);
        var system = ClusterNode.CreateSystem(clusterOptions, AkkaSettings.Build(resolved, store, cluster: clusterOptions), store);
        var shutdown = CoordinatedShutdown.Get(system);
        try
        {
            return await TrainAsync(system, config, store, identity, resume, rest, output, interactive, dashboard);
        }
        finally
        {
            await shutdown.Run(new Ended());
        }
    }

    private static async Task<int> TrainAsync(ActorSystem system, RunConfig config, RunStore store, string identity, bool resume,
        string[] rest, TextWriter output, bool interactive, LiveDashboard.Request? dashboard)
    {
        string runDir = config.RunDir;
        var history = await RunJournal.ReadAsync(system, config.RunId);
        if (history.Started is { } started)
        {
            if (!resume)
                throw new UserError($"the store {store.Where} already holds run '{config.RunId}' (started {started.At:yyyy-MM-dd HH:mm}Z, {history.Checkpoints.Count} checkpoint(s)). HINT: add --resume to continue it, or pass another --run-dir (or run.id)");
            var differences = RunConfigLoader.IdentityDifferences(started.IdentityJson, identity);
            if (differences.Count > 0)
                throw new UserError($"run '{config.RunId}' in {store.Where} was started with another config ({string.Join("; ", differences)}). HINT: resume with the settings the run was started with, or start a new run with another --run-dir");
        }
        // The run's root loads (and verifies) the payload itself; here the newest event is enough to say where it resumes.
        var existing = history.Checkpoints.Count > 0 ? history.Checkpoints[^1] : null;
        if (existing is not null)
        {
            if (existing.Step >= config.Train.Steps)
            {
                output.WriteLine($"the run in '{runDir}' is already complete (checkpoint at step {existing.Step} of {config.Train.Steps}); nothing to do. To train longer, start a new run with more train.steps (the schedule depends on them)");
                PrintSummary(output, runDir, config, existing.Step, history.Evaluations);
                return 0;
            }
            output.WriteLine($"resuming from the checkpoint at step {existing.Step} (epoch {existing.Epoch}, step {existing.StepInEpoch} of it)");
        }
        else if (resume)
        {
            output.WriteLine($"--resume: no usable checkpoint of run '{config.RunId}' yet; starting at step 0");
        }

        // Served before the data are prepared (the palette, a first download may take a while): the page answers from the start.
        var feed = new RunFeed();
        await using var server = await LiveDashboard.StartAsync(dashboard, system, config, feed, output);

        var palette = history.Started is { } s ? Nn.Palette.Palette.FromJson(s.PaletteJson, $"the history of run '{config.RunId}' in {store.Where}") : null;
        var inputs = RunData.Prepare(config, palette, output);
        if (history.Started is null) File.WriteAllText(Path.Combine(runDir, "palette.json"), inputs.Palette.ToJson());
        PrintDerived(output, config, inputs, existing?.Step ?? 0);

        // The first member of the run's cluster: it founds it (unless akka.cluster.seed-nodes names others) and says how to add nodes.
        await ClusterNode.JoinAsync(system, config.Cluster!.JoinTimeout);
        output.WriteLine($"cluster: {ClusterNode.Describe(system)}; add a node with: imagegpt node --config <this config> --seed {ClusterNode.Endpoint(Akka.Cluster.Cluster.Get(system).SelfAddress)}");

        var shutdown = CoordinatedShutdown.Get(system);
        using var interrupts = new Interrupts(system, output, "finishing the current step and writing a checkpoint");

        var progress = new ConsoleProgress(output, interactive, config.Log.Every, existing?.Step ?? 0);
        using var metrics = new MetricsLog(runDir, config.Log.Every, existing?.Step ?? 0);
        var evaluations = new EvaluationLog(history.Evaluations);
        var clock = Stopwatch.StartNew();
        RunEnded outcome;
        try
        {
            var ended = ClusterRun.Start(system, new ClusterNodeSetup(config, inputs, store, identity, new Observers(progress, metrics, evaluations, feed)));
            // Ctrl-C and SIGTERM on the first member stop the whole run: the root finishes its step and writes the final checkpoint.
            shutdown.AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "stop-the-run", () =>
            {
                system.ActorSelection($"/user/{ClusterRun.Proxy}").Tell(new StopTraining(shutdown.ShutdownReason?.ToString() ?? "shutdown"));
                return ended.ContinueWith(_ => Akka.Done.Instance, TaskScheduler.Default);
            });
            outcome = await ended;
        }
        finally
        {
            progress.Dispose();
        }

        if (outcome.Error is not null)
        {
            output.WriteLine($"imagegpt train: error: {outcome.Error}");
            return 1;
        }
        long trained = outcome.Step - (existing?.Step ?? 0);
        double tokens = trained * (double)config.Train.Batch * config.Model.Seq;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{(outcome.Stopped ? "stopped" : "finished")} at step {outcome.Step}/{config.Train.Steps} after {ConsoleProgress.Duration(clock.Elapsed.TotalSeconds)} " +
            $"({tokens / clock.Elapsed.TotalSeconds / 1000:F1}k tokens/s overall, data preparation and evaluations included)"));
        PrintSummary(output, runDir, config, outcome.Step, evaluations.All);
        if (outcome.Stopped)
        {
            output.WriteLine($"resume with: imagegpt train {string.Join(' ', rest.Where(a => a != "--resume"))} --resume".Replace("  ", " "));
            return 130;
        }
        return 0;
    }

    /// <summary>Without --config, train runs the default run: fashion-mnist.conf beside reference.conf.</summary>
    public static string DefaultRun(string referencePath) => Path.Combine(Path.GetDirectoryName(referencePath)!, "fashion-mnist.conf");

    internal static void CheckRunDirectory(string runDir)
    {
        try
        {
            Directory.CreateDirectory(runDir);
            string probe = Path.Combine(runDir, ".write-test");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"run directory '{runDir}' is not writable ({e.Message}). HINT: pass a writable --run-dir or --set run.dir=...");
        }
    }

    internal static void PrintDerived(TextWriter output, RunConfig c, TrainingInputs inputs, long startStep)
    {
        var m = c.Model;
        long stepsPerEpoch = inputs.Train.Count / c.Train.Batch;
        double tokensPerStep = (double)c.Train.Batch * m.Seq;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"derived: {m.ParameterCount:N0} parameters; {tokensPerStep:N0} tokens and {tokensPerStep * m.TrainingFlopsPerTokenCausal / 1e9:F1} GFLOP per step; " +
            $"{stepsPerEpoch} steps per epoch, {(double)c.Train.Steps / Math.Max(1, stepsPerEpoch):F2} epochs in {c.Train.Steps} steps; " +
            $"{c.Runtime.Trainers} trainer(s) x {c.Runtime.ThreadsPerTrainer} thread(s), {c.Train.Shards} shards of {c.Train.Batch / c.Train.Shards} images; starting at step {startStep}; " +
            $"MFU against {Mfu.Calibrate():F0} GFLOP/s per core (this core's FMA loop, measured now)"));
        output.WriteLine($"run directory: {Path.GetFullPath(c.RunDir)} (status: imagegpt status --run-dir {c.RunDir})");
    }

    private static void PrintSummary(TextWriter output, string runDir, RunConfig c, long step, IReadOnlyList<EvaluationRecorded> evals)
    {
        if (evals.Count >= 2)
        {
            var first = evals[0];
            var last = evals[^1];
            static ProbeRow? Best(EvaluationRecorded e) => e.Probe.MaxBy(p => p.ValidationAccuracy);
            if (Best(first) is { } a && Best(last) is { } b)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"linear probe (in-run subsets), best layer by validation: step {first.Step}: layer {a.Layer} test {100 * a.TestAccuracy:F2}%  ->  step {last.Step}: layer {b.Layer} test {100 * b.TestAccuracy:F2}%"));
            if (!double.IsNaN(first.ValidationBits) && !double.IsNaN(last.ValidationBits))
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"validation loss: step {first.Step}: {first.ValidationBits:F4} bits/token  ->  step {last.Step}: {last.ValidationBits:F4} bits/token"));
        }
        string weights = CheckpointWriter.WeightsPath(runDir, step);
        if (c.Checkpoint.ExportSafetensors && File.Exists(weights))
            output.WriteLine($"weights: {weights} (palette: {Path.Combine(runDir, "palette.json")})");
    }

    /// <summary>The evaluations of the run so far (from its history) and those of this process, by step.</summary>
    private sealed class EvaluationLog(IReadOnlyList<EvaluationRecorded> before) : ITrainingObserver
    {
        private readonly SortedDictionary<long, EvaluationRecorded> _all = new(before.ToDictionary(e => e.Step));

        public IReadOnlyList<EvaluationRecorded> All => _all.Values.ToList();

        public void Evaluation(EvaluationRecorded result, string table) => _all[result.Step] = result;
        public void Step(StepReport report) { }
        public void CheckpointSaved(long step, double seconds, bool final) { }
        public void Warning(string message) { }
    }

    /// <summary>The run ended (finished, failed or refused to start): the system shuts down.</summary>
    private sealed class Ended : CoordinatedShutdown.Reason
    {
        public override int ExitCode => 0;
        public override string ToString() => "the run ended";
    }
}
