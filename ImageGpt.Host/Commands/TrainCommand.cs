using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt train [--config FILE] [--set k=v ...] [--run-dir DIR] [--resume]</c>: the main job
/// (without --config: hocon/fashion-mnist.conf, the default run).
/// Reads the config, opens the run's store (refusing to overwrite an existing run unless --resume),
/// prepares the data, runs the actor system to the last step and prints the evaluations.
/// Exit codes: 0 finished, 1 the run failed, 2 bad input, 130 stopped by Ctrl-C/SIGTERM (resumable).
/// </summary>
public static class TrainCommand
{
    public static int Run(string[] rest) => RunAsync(rest, Console.Out, !Console.IsOutputRedirected).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(string[] rest, TextWriter output, bool interactive)
    {
        var args = Args.Parse("train", rest, new HashSet<string>(StringComparer.Ordinal) { "resume" });
        string? file = args.String("config");
        var sets = args.All("set");
        string? runDirOverride = args.String("run-dir");
        bool resume = args.Flag("resume");
        args.RejectUnknown();

        string referencePath = ConfigCommand.FindReference();
        file ??= DefaultRun(referencePath);
        output.WriteLine($"config: {file}");
        var reference = Actors.Configuration.ConfigFactory.ParseFile(referencePath);
        var config = RunConfigLoader.Load(reference, file, sets, runDirOverride);
        string identity = RunConfigLoader.IdentityJson(config);
        output.WriteLine(RunConfigLoader.Describe(config));

        string runDir = config.RunDir;
        CreateRunDirectory(runDir);
        await using var store = SqlRunStore.Open(config.Checkpoint, runDir);
        var existing = await store.LoadLatestCheckpointAsync(w => output.WriteLine($"warning: {w}"));
        if (existing is not null && !resume)
            throw new UserError($"run directory '{runDir}' already holds a run (checkpoint at step {existing.Step}). HINT: add --resume to continue it, or pass another --run-dir");
        if (existing is not null)
        {
            var differences = RunConfigLoader.IdentityDifferences(existing.IdentityJson, identity);
            if (differences.Count > 0)
                throw new UserError($"the checkpoint at step {existing.Step} in '{runDir}' was made with another config ({string.Join("; ", differences)}). HINT: resume with the settings the run was started with, or start a new run with another --run-dir");
            if (existing.Step >= config.Train.Steps)
            {
                output.WriteLine($"the run in '{runDir}' is already complete (checkpoint at step {existing.Step} of {config.Train.Steps}); nothing to do. To train longer, start a new run with more train.steps (the schedule depends on them)");
                await PrintSummary(output, store, runDir, config, existing.Step);
                return 0;
            }
            output.WriteLine($"resuming from the checkpoint at step {existing.Step} (epoch {existing.Epoch}, step {existing.StepInEpoch} of it)");
        }
        else if (resume)
        {
            output.WriteLine($"--resume: no checkpoint in '{runDir}' yet; starting at step 0");
        }

        var palette = existing is null ? null : Nn.Palette.Palette.FromJson(existing.PaletteJson, $"the checkpoint at step {existing.Step} in {runDir}");
        var inputs = RunData.Prepare(config, palette, output);
        if (existing is null) File.WriteAllText(Path.Combine(runDir, "palette.json"), inputs.Palette.ToJson());
        PrintDerived(output, config, inputs, existing?.Step ?? 0);

        using var stop = new CancellationTokenSource();
        int interrupts = 0;
        void Interrupt(string what)
        {
            if (Interlocked.Increment(ref interrupts) > 1) Environment.Exit(130);
            output.WriteLine($"\n{what}: finishing the current step and writing a checkpoint (again to quit at once)");
            stop.Cancel();
        }
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; Interrupt("Ctrl-C"); };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Interrupt("SIGTERM"); });

        var progress = new ConsoleProgress(output, interactive, config.Log.Every) { StartStep = existing?.Step ?? 0 };
        using var metrics = new MetricsLog(runDir, config.Log.Every, existing?.Step ?? 0);
        var clock = Stopwatch.StartNew();
        TrainingOutcome outcome;
        try
        {
            outcome = await TrainingRun.RunAsync(config, inputs, store, existing, identity, new Observers(progress, metrics), null, stop.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
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
        await PrintSummary(output, store, runDir, config, outcome.Step);
        if (outcome.Stopped)
        {
            output.WriteLine($"resume with: imagegpt train {string.Join(' ', rest.Where(a => a != "--resume"))} --resume".Replace("  ", " "));
            return 130;
        }
        return 0;
    }

    /// <summary>Without --config, train runs the default run: fashion-mnist.conf beside reference.conf.</summary>
    public static string DefaultRun(string referencePath) => Path.Combine(Path.GetDirectoryName(referencePath)!, "fashion-mnist.conf");

    private static void CreateRunDirectory(string runDir)
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

    private static void PrintDerived(TextWriter output, RunConfig c, TrainingInputs inputs, long startStep)
    {
        var m = c.Model;
        long stepsPerEpoch = inputs.Train.Count / c.Train.Batch;
        double tokensPerStep = (double)c.Train.Batch * m.Seq;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"derived: {m.ParameterCount:N0} parameters; {tokensPerStep:N0} tokens and {tokensPerStep * m.TrainingFlopsPerTokenCausal / 1e9:F1} GFLOP per step; " +
            $"{stepsPerEpoch} steps per epoch, {(double)c.Train.Steps / Math.Max(1, stepsPerEpoch):F2} epochs in {c.Train.Steps} steps; " +
            $"{c.Runtime.Trainers} trainer(s) x {c.Runtime.ThreadsPerTrainer} thread(s), {c.Train.Shards} shards of {c.Train.Batch / c.Train.Shards} images; starting at step {startStep}"));
        output.WriteLine($"run directory: {Path.GetFullPath(c.RunDir)} (status: imagegpt status --run-dir {c.RunDir})");
    }

    private static async Task PrintSummary(TextWriter output, IRunStore store, string runDir, RunConfig c, long step)
    {
        var evals = await store.ListEvalsAsync();
        if (evals.Count >= 2)
        {
            var first = evals[0];
            var last = evals[^1];
            static ProbeRow? Best(EvalResult e) => e.Probe.Where(p => p.Layer != "raw pixels").MaxBy(p => p.ValidationAccuracy);
            if (Best(first) is { } a && Best(last) is { } b)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"linear probe, best layer by validation: step {first.Step}: layer {a.Layer} test {100 * a.TestAccuracy:F2}%  ->  step {last.Step}: layer {b.Layer} test {100 * b.TestAccuracy:F2}%"));
            if (!double.IsNaN(first.ValidationBits) && !double.IsNaN(last.ValidationBits))
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"validation loss: step {first.Step}: {first.ValidationBits:F4} bits/token  ->  step {last.Step}: {last.ValidationBits:F4} bits/token"));
        }
        string weights = CheckpointWriter.WeightsPath(runDir, step);
        if (c.Checkpoint.ExportSafetensors && File.Exists(weights))
            output.WriteLine($"weights: {weights} (palette: {Path.Combine(runDir, "palette.json")})");
    }
}
