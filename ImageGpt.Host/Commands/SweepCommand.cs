using System.CommandLine;
using System.Globalization;
using System.Runtime;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Sweep;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt sweep [--config FILE] --set KEY=[a,b,...] [--set k=v ...] [--steps N] [--run-dir DIR]</c>: one short run per
/// value of one numeric setting (the learning rate in the paper), one after another, each a run of its own (run id
/// <c>&lt;sweep id&gt;-lr-0.003</c>, folder <c>DIR/lr-0.003</c>) in the sweep's one store; then the choice, the first
/// local minimum of the validation loss in the order the values are given (<see cref="SweepChoice"/>), and the table
/// value → validation loss, printed and written as sweep.json and sweep.csv in DIR. The sweep's own history (its values,
/// each one's loss, the choice) is journaled in the same store under the sweep's id, so the same command again resumes
/// it: finished values are not trained again, an interrupted one resumes from its checkpoint.
/// Exit codes: 0 done, 1 a run failed (other than by diverging), 2 bad input, 130 stopped by Ctrl-C/SIGTERM (resumable).
/// </summary>
public static class SweepCommand
{
    private static readonly Option<string?> ConfigPath = ConfigCommand.ConfigFile("hocon/fashion-mnist.conf, the default run");
    private static readonly Option<string[]> Overrides = Cli.Many("--set",
        "override one setting; exactly one --set gives the values to sweep as a list, KEY=[a,b,...], of any numeric setting (one setting per sweep), e.g. --set train.lr=[0.01,0.003,0.001,0.0003]",
        "path=value");
    private static readonly Option<int?> Steps = Cli.OptionalInt("--steps",
        "train.steps of every value's run; the warmup-cosine schedule ends there (default: train.steps of the config)");
    private static readonly Option<string?> RunDir = Cli.Optional("--run-dir",
        "the sweep's directory: its store (run.db) and a folder per value (default: run.dir of the config followed by -sweep, runs/fashion-mnist-sweep for the default run)", "DIR");
    private static readonly Option<bool> AllValues = Cli.Flag("--all-values",
        "train every value given; by default the sweep stops, as the paper does, once the first local minimum is settled (a value the next one does not improve on)");

    public static Command Definition { get; } = Cli.Command("sweep",
        "train a short run per value of one setting, one after another, and choose as the paper chooses its learning rate: " +
        "the first local minimum of validation loss, walking the values in the order given (the paper goes from the largest " +
        "learning rate down); prints the table value -> validation loss. Running the same command again resumes the sweep",
        ConfigPath, Overrides, Steps, RunDir, AllValues);

    static SweepCommand() => Definition.SetAction(r => RunAsync(r, Console.Out, !Console.IsOutputRedirected).GetAwaiter().GetResult());

    public static Task<int> RunAsync(string[] rest, TextWriter output, bool interactive) => RunAsync(Cli.Parse(Definition, rest), output, interactive);

    /// <summary>One value's run, ready to train.</summary>
    private sealed record ValueRun(int Index, string Value, RunConfig Config, Config Resolved);

    /// <summary>How one value's run ended in this process.</summary>
    private sealed record ValueOutcome(bool Stopped, string? Error, SweepValueFinished? Finished);

    private static async Task<int> RunAsync(ParseResult args, TextWriter output, bool interactive)
    {
        string? file = args.GetValue(ConfigPath);
        var sets = args.GetValue(Overrides) ?? [];
        int? steps = args.GetValue(Steps);
        if (steps is < 1) throw new UserError($"--steps {steps} must be at least 1. HINT: e.g. --steps 300");
        string referencePath = ConfigCommand.FindReference();
        file ??= TrainCommand.DefaultRun(referencePath);
        var reference = ConfigFactory.ParseFile(referencePath);
        var spec = SweepSpec.Find(sets, reference.Resolve());
        output.WriteLine($"config: {file}");
        // Every value's config is read and checked before anything is written.
        var (sweepDir, sweepId, runs) = Plan(spec, sets, steps, file, reference, args.GetValue(RunDir));
        RunConfig first = runs[0].Config;
        if (!first.Eval.Enabled || first.Eval.ValidationImages == 0 || !first.Model.Causal)
            throw new UserError($"a sweep chooses by validation loss, which this config does not measure (eval.enabled = {(first.Eval.Enabled ? "true" : "false")}, " +
                $"eval.validation-images = {first.Eval.ValidationImages}, model.objective = {first.Model.Objective.ToString().ToLowerInvariant()}). " +
                "HINT: set eval.enabled = true, eval.validation-images > 0 and model.objective = autoregressive; the probe and the completions may be off (eval.probe.train = 0, eval.completions.images = 0)");
        output.WriteLine(RunConfigLoader.Describe(first with { RunDir = sweepDir, RunId = sweepId }));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sweep '{sweepId}' of {spec.Key} over [{string.Join(", ", spec.Values)}] in this order, {first.Train.Steps} steps each, in {Path.GetFullPath(sweepDir)}"));

        await using var store = RunStore.Open(first.Checkpoint, sweepDir);
        TrainCommand.CheckRunDirectory(sweepDir);
        var system = ActorSystem.Create(AkkaSettings.SystemName(sweepId), AkkaSettings.Build(runs[0].Resolved, store));
        try
        {
            return await SweepAsync(system, store, spec, sweepDir, sweepId, runs, args.GetValue(AllValues), output, interactive);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    /// <summary>The sweep's directory and id, and each value's run: config, folder <c>DIR/lr-0.003</c>, run id <c>&lt;sweep id&gt;-lr-0.003</c>.</summary>
    private static (string Dir, string Id, IReadOnlyList<ValueRun> Runs) Plan(SweepSpec spec, IReadOnlyList<string> sets, int? steps, string file,
        Config reference, string? runDirOverride)
    {
        var known = reference.Resolve();
        string dir = "", id = "";
        var runs = new List<ValueRun>();
        for (int i = 0; i < spec.Values.Count; i++)
        {
            var valueSets = spec.SetsFor(sets, i).ToList();
            if (steps is { } n) valueSets.Add(string.Create(CultureInfo.InvariantCulture, $"train.steps={n}"));
            var resolved = RunConfigLoader.Layer(reference, file, valueSets).Resolve();
            var config = RunConfigLoader.FromResolved(resolved, known);
            if (i == 0)
            {
                dir = runDirOverride ?? Path.TrimEndingDirectorySeparator(config.RunDir) + "-sweep";
                if (string.IsNullOrWhiteSpace(dir)) throw new UserError("--run-dir is empty. HINT: pass a folder, e.g. --run-dir runs/lr-sweep");
                id = resolved.GetString("run.id") is { Length: > 0 } given ? given : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            }
            runs.Add(new ValueRun(i, spec.Values[i], config with { RunDir = Path.Combine(dir, spec.Name(i)), RunId = $"{id}-{spec.Name(i)}" }, resolved));
        }
        return (dir, id, runs);
    }

    private static async Task<int> SweepAsync(ActorSystem system, RunStore store, SweepSpec spec, string sweepDir, string sweepId,
        IReadOnlyList<ValueRun> runs, bool allValues, TextWriter output, bool interactive)
    {
        var history = await SweepJournal.ReadAsync(system, sweepId);
        var started = new SweepStarted(sweepId, spec.Key, spec.Values, runs.Select(r => r.Config.RunId).ToList(),
            Identity(runs[0].Config), DateTimeOffset.UtcNow);
        var journal = new SweepJournal(system, sweepId);
        if (history.Started is { } before)
        {
            CheckSameSweep(before, started, store);
            output.WriteLine($"resuming the sweep: {history.Finished.Count} of {spec.Values.Count} value(s) done");
        }
        else
        {
            await journal.RecordAsync(started);
            history.Apply(started);
        }
        var configs = runs.Select(r => r.Config).ToList();
        SweepFiles.Write(sweepDir, sweepId, spec, history, configs, choice: null);

        TrainingInputs? shared = null;
        // Ctrl-C and SIGTERM stop the value's run in training (it finishes its step and writes a checkpoint), or the sweep
        // before its next value.
        using var stop = new CancellationTokenSource();
        using var interrupts = new Interrupts(output, "finishing the current step of the value's run and writing a checkpoint; the sweep stops there", _ => stop.Cancel());
        foreach (ValueRun run in runs)
        {
            if (history.Finished.TryGetValue(run.Index, out var done))
            {
                output.WriteLine($"{spec.Key} = {run.Value}: done already ({Loss(done)}), not trained again");
                continue;
            }
            if (!allValues && SweepChoice.Settled(history.Losses(run.Index)))
            {
                output.WriteLine($"{spec.Key} = {run.Value}: not trained: the first local minimum is settled before it (--all-values trains every value)");
                continue;
            }
            output.WriteLine();
            output.WriteLine($"== {spec.Key} = {run.Value} ({run.Index + 1} of {runs.Count}): run '{run.Config.RunId}' in {run.Config.RunDir} ==");
            // The data (palette, tokens, evaluation subsets) depend only on the model, data and eval settings: unless the
            // sweep varies one of those, every value trains on the same prepared inputs.
            bool sameInputs = !(spec.Key.StartsWith("model.", StringComparison.Ordinal) || spec.Key.StartsWith("data.", StringComparison.Ordinal)
                || spec.Key.StartsWith("eval.", StringComparison.Ordinal));
            var outcome = stop.IsCancellationRequested ? new ValueOutcome(true, null, null)
                : await TrainValueAsync(run, store, sameInputs ? shared : null, inputs => shared = inputs, output, interactive, stop.Token);
            ReleaseValueMemory();
            if (outcome.Stopped)
            {
                output.WriteLine(Table(history, choice: null));
                output.WriteLine($"sweep stopped; the same command again resumes it (value {spec.Key} = {run.Value} from its last checkpoint)");
                return 130;
            }
            if (outcome.Finished is not { } finished)
            {
                output.WriteLine($"imagegpt sweep: error: the run of {spec.Key} = {run.Value} failed: {outcome.Error}");
                output.WriteLine("the same command again resumes it from its last checkpoint");
                return 1;
            }
            await journal.RecordAsync(finished);
            history.Apply(finished);
            SweepFiles.Write(sweepDir, sweepId, spec, history, configs, choice: null);
            output.WriteLine($"{spec.Key} = {run.Value}: {Loss(finished)}");
        }

        int? choice = SweepChoice.FirstLocalMinimum(history.Losses(runs.Count));
        if (history.Chosen is null)
        {
            var chosen = new SweepChosen(choice, choice is { } c ? spec.Values[c] : null, DateTimeOffset.UtcNow);
            await journal.RecordAsync(chosen);
            history.Apply(chosen);
        }
        output.WriteLine();
        output.WriteLine(Table(history, choice));
        var written = SweepFiles.Write(sweepDir, sweepId, spec, history, configs, choice);
        output.WriteLine($"table: {string.Join(", ", written)}");
        return 0;
    }

    /// <summary>
    /// What makes two sweeps the same besides the list: the settings that decide the weights (the first value's run's
    /// identity) and those that decide the measured loss (the validation subset's size and seed).
    /// </summary>
    private static string Identity(RunConfig first)
    {
        var identity = System.Text.Json.Nodes.JsonNode.Parse(RunConfigLoader.IdentityJson(first))!.AsObject();
        identity["eval"] = new System.Text.Json.Nodes.JsonObject { ["seed"] = first.Eval.Seed, ["validation-images"] = first.Eval.ValidationImages };
        return identity.ToJsonString();
    }

    /// <summary>
    /// The value's actor system, its trainers' models and buffers and its evaluator's are garbage once its run ends, most of
    /// it in the large-object heap, which the GC does not compact on its own: compacting it here keeps the next value's run
    /// from growing the heap around the last one's holes.
    /// </summary>
    private static void ReleaseValueMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    /// <summary>A sweep resumed with another setting, list of values or config is refused, naming the difference.</summary>
    private static void CheckSameSweep(SweepStarted before, SweepStarted now, RunStore store)
    {
        string where = $"sweep '{before.SweepId}' in {store.Where}";
        const string hint = "HINT: run the sweep again with the settings it was started with, or start a new one with another --run-dir";
        if (before.Key != now.Key)
            throw new UserError($"{where} sweeps {before.Key}, not {now.Key}. {hint}");
        if (!before.Values.SequenceEqual(now.Values))
            throw new UserError($"{where} was started with {before.Key} = [{string.Join(",", before.Values)}], not [{string.Join(",", now.Values)}]. {hint}");
        var differences = RunConfigLoader.IdentityDifferences(before.IdentityJson, now.IdentityJson);
        if (differences.Count > 0)
            throw new UserError($"{where} was started with another config ({string.Join("; ", differences)}). {hint}");
    }

    private static string Loss(SweepValueFinished v) => v.Diverged is { } why
        ? $"diverged ({why})"
        : string.Create(CultureInfo.InvariantCulture, $"validation loss {v.ValidationNats:F4} nats/token = {v.ValidationBits:F4} bits/token at step {v.Step}");

    /// <summary>
    /// Trains value <paramref name="run"/>'s run to its last step (or resumes it from its newest checkpoint) in an actor
    /// system of its own, as <c>imagegpt train</c> would with these settings, and takes the evaluator's validation loss at
    /// the last step. <paramref name="stop"/> (Ctrl-C, SIGTERM) stops it with a checkpoint.
    /// </summary>
    private static async Task<ValueOutcome> TrainValueAsync(ValueRun run, RunStore store, TrainingInputs? shared, Action<TrainingInputs> prepared,
        TextWriter output, bool interactive, CancellationToken stop)
    {
        RunConfig config = run.Config;
        var system = ActorSystem.Create(AkkaSettings.SystemName(config.RunId), AkkaSettings.Build(run.Resolved, store));
        try
        {
            var history = await RunJournal.ReadAsync(system, config.RunId);
            string identity = RunConfigLoader.IdentityJson(config);
            if (history.Started is { } started && RunConfigLoader.IdentityDifferences(started.IdentityJson, identity) is { Count: > 0 } differences)
                throw new UserError($"run '{config.RunId}' in {store.Where} was started with another config ({string.Join("; ", differences)}). HINT: run the sweep with the settings it was started with, or pass another --run-dir");
            Directory.CreateDirectory(config.RunDir);
            var palette = history.Started is { } s ? Nn.Palette.Palette.FromJson(s.PaletteJson, $"the history of run '{config.RunId}' in {store.Where}") : null;
            var inputs = shared ?? RunData.Prepare(config, palette, output);
            prepared(inputs);
            if (history.Started is null) File.WriteAllText(Path.Combine(config.RunDir, "palette.json"), inputs.Palette.ToJson());

            var existing = history.Checkpoints.Count > 0 ? history.Checkpoints[^1] : null;
            if (existing is not null && existing.Step >= config.Train.Steps)
            {
                // Complete, but the sweep had not recorded it (stopped in between): its final evaluation says the loss.
                output.WriteLine($"the run is complete (checkpoint at step {existing.Step})");
                return Finished(run, existing.Step, FinalLoss(history, existing.Step, store, config, inputs, output), diverged: null);
            }
            if (existing is not null) output.WriteLine($"resuming from the checkpoint at step {existing.Step}");
            TrainCommand.PrintDerived(output, config, inputs, existing?.Step ?? 0);

            var progress = new ConsoleProgress(output, interactive, config.Log.Every, existing?.Step ?? 0);
            using var metrics = new MetricsLog(config.RunDir, config.Log.Every, existing?.Step ?? 0);
            var losses = new LossWatch();
            TrainingOutcome outcome;
            try
            {
                // A stop requested before the run started stops it at once (the token's callback runs on registration).
                outcome = await TrainingRun.RunAsync(system, config, inputs, store.Blobs, identity, new Observers(progress, metrics, losses), stop: stop);
            }
            finally
            {
                progress.Dispose();
            }
            if (outcome.Stopped) return new ValueOutcome(true, null, null);
            if (outcome.Error is { } error)
                // A learning rate too large for the model: the run's loss stopped being a number. That is a result of the sweep, not a failure.
                // (The run's own hint, to resume it with a lower learning rate, is not the sweep's.)
                return losses.Diverged ? Finished(run, outcome.Step, null, error.Split(". HINT:")[0]) : new ValueOutcome(false, error, null);
            var after = await RunJournal.ReadAsync(system, config.RunId);
            return Finished(run, outcome.Step, FinalLoss(after, outcome.Step, store, config, inputs, output), diverged: null);
        }
        finally
        {
            await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        }
    }

    private static ValueOutcome Finished(ValueRun run, long step, double? nats, string? diverged)
    {
        double n = nats ?? double.NaN;
        return new ValueOutcome(false, null, new SweepValueFinished(run.Index, run.Value, run.Config.RunId, step, n, n / Math.Log(2), diverged, DateTimeOffset.UtcNow));
    }

    /// <summary>
    /// The validation loss (nats per token) of the run's last checkpoint: the evaluator's, recorded with the checkpoint's
    /// evaluation; measured here, on the same validation subset, only if the process stopped between the two.
    /// </summary>
    private static double FinalLoss(RunHistory history, long step, RunStore store, RunConfig config, TrainingInputs inputs, TextWriter output)
    {
        if (history.Evaluations.FirstOrDefault(e => e.Step == step) is { } recorded && !double.IsNaN(recorded.ValidationNats)) return recorded.ValidationNats;
        var checkpoint = ((ICheckpointStore)store.Blobs).LoadLatest(history, output.WriteLine);
        if (checkpoint is null || checkpoint.Step != step || inputs.Eval?.Validation is not { } validation)
            throw new UserError($"the checkpoint of step {step} of run '{config.RunId}' could not be read back from {store.Where}. HINT: move the value's folder {config.RunDir} and its run away (or the whole sweep) and run the sweep again");
        output.WriteLine($"measuring the validation loss of step {step} (its evaluation was not recorded)");
        var parameters = new Nn.Model.ParameterSlab(config.Model);
        checkpoint.Parameters.CopyTo(parameters.Data);
        // As the evaluator measures it: batches of 16 (the result does not depend on the batch).
        int batch = Math.Min(16, validation.Count);
        return Nn.Eval.ValidationLoss.Measure(new Nn.Model.Gpt(config.Model, batch, parameters), validation, batch).NatsPerToken;
    }

    /// <summary>Whether the run's loss stopped being a number (the aggregator then ends the run with an error).</summary>
    private sealed class LossWatch : ITrainingObserver
    {
        private volatile bool _diverged;

        public bool Diverged => _diverged;

        public void Step(StepReport report)
        {
            if (!float.IsFinite(report.Loss)) _diverged = true;
        }

        public void CheckpointSaved(long step, double seconds, bool final) { }
        public void Evaluation(EvaluationRecorded result, string table) { }
        public void Warning(string message) { }
    }

    /// <summary>
    /// The table value → validation loss (nats and bits per token) at the step it was measured (each run's last), in the
    /// order given, the choice marked; printed by the sweep and by <c>imagegpt status</c>.
    /// </summary>
    /// <summary>A choice at either end of the list is a minimum only within it.</summary>
    private static string Edge(int choice, int count) =>
        count < 2 ? ""
        : choice == 0 ? ", the first value given: a value before it may be better still (HINT: to bracket the minimum, sweep again with values beyond it)"
        : choice == count - 1 ? ", the last value given: the loss was still falling (HINT: to bracket the minimum, sweep again with values beyond it)"
        : "";

    internal static string Table(SweepHistory history, int? choice)
    {
        var ci = CultureInfo.InvariantCulture;
        SweepStarted s = history.Started ?? throw new ArgumentException("the sweep has not started", nameof(history));
        int width = Math.Max(s.Key.Length, s.Values.Max(v => v.Length));
        var text = new System.Text.StringBuilder();
        text.AppendLine(ci, $"sweep of {s.Key}: validation loss at the last step of each run, in the order given");
        text.AppendLine(ci, $"  {s.Key.PadLeft(width)}  {"nats/token",10}  {"bits/token",10}  {"step",6}  run");
        for (int i = 0; i < s.Values.Count; i++)
        {
            string nats = "-", bits = "-", step = "-", note = "";
            if (history.Finished.TryGetValue(i, out var v))
            {
                (nats, bits) = v.Diverged is not null ? ("diverged", "diverged") : (v.ValidationNats.ToString("F4", ci), v.ValidationBits.ToString("F4", ci));
                step = v.Step.ToString(ci);
            }
            else note = choice is null ? "  (not trained yet)" : "  (not trained: past the first local minimum)";
            if (i == choice) note += "  <- chosen: the first local minimum";
            text.AppendLine(ci, $"  {s.Values[i].PadLeft(width)}  {nats,10}  {bits,10}  {step,6}  {s.RunIds[i]}{note}");
        }
        if (choice is not null || history.Finished.Count == s.Values.Count)
            text.Append(choice is { } c ? $"chosen: {s.Key} = {s.Values[c]}{Edge(c, s.Values.Count)}" : "chosen: none (every run diverged). HINT: sweep smaller values");
        return text.ToString().TrimEnd('\n');
    }
}
