using System.Globalization;
using System.Text.Json;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Sweep;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;

namespace ImageGpt.Host.Tests;

/// <summary>
/// `imagegpt sweep` end to end on the tiny model of <see cref="TrainCommandTests"/> over real Fashion-MNIST: stopped by SIGTERM
/// and resumed without training again what was done, the table and the choice against the runs' recorded losses, each
/// value's weights against a plain `imagegpt train` of that value, and the one-line refusals of bad input.
/// </summary>
public sealed class SweepCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-sweep-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const int Steps = 600;

    /// <summary>The tiny run with its validation loss measured (the probe and completions off), a checkpoint every 100 steps.</summary>
    private static readonly string[] Tiny =
    [
        .. TrainCommandTests.Tiny, "--set", "checkpoint.every=100", "--set", "eval.enabled=true", "--set", "eval.validation-images=50",
        "--set", "eval.probe.train=0", "--set", "eval.probe.validation=0", "--set", "eval.probe.test=0", "--set", "eval.completions.images=0",
    ];

    /// <summary>1e8 diverges within a few steps; the others train.</summary>
    private static readonly string[] Values = ["1e8", "0.3", "0.01", "0.001"];

    /// <summary>With <paramref name="all"/> (as most tests here), every value is trained, whatever the losses.</summary>
    private static string[] SweepArgs(string dir, string list = "[1e8,0.3,0.01,0.001]", int steps = Steps, bool all = true) =>
        [.. Tiny, "--set", $"train.lr={list}", "--steps", steps.ToString(CultureInfo.InvariantCulture), "--run-dir", dir, .. (all ? (string[])["--all-values"] : [])];

    private static Task<T> Read<T>(string sweepDir, Func<Akka.Actor.ActorSystem, Task<T>> read) =>
        RunFiles.WithStoreAsync(sweepDir, (system, _) => read(system).WaitAsync(RunFiles.Patience));

    [Fact]
    public async Task A_sweep_stopped_by_SIGTERM_resumes_without_training_again_what_was_done_and_chooses_the_first_local_minimum_of_the_recorded_losses()
    {
        string sweep = Path.Combine(_root, "sweep");
        // SIGTERM as soon as the third value's run reports its first step: the first two values are done by then. The
        // sweep's store is held (its write lock) from that line until the child says it is stopping, so the third run
        // cannot finish first, however fast the machine: its checkpoints (and its end) wait for the store.
        bool third = false;
        var (exit, signalled, output) = await TrainCommandTests.RunChildAndMaybeKill(SweepArgs(sweep), TimeSpan.Zero, signal: "TERM", command: "sweep",
            when: line => (third |= line.StartsWith("== train.lr = 0.01 (3 of 4)", StringComparison.Ordinal)) && line.StartsWith("step ", StringComparison.Ordinal),
            holdStore: () => TrainCommandTests.HoldWriteLock(Path.Combine(sweep, RunStore.SqliteFileName)));
        Assert.True(signalled, output);
        Assert.Equal(130, exit);
        Assert.Contains("sweep stopped; the same command again resumes it", output);

        var before = await Read(sweep, s => SweepJournal.ReadAsync(s, "sweep"));
        Assert.NotNull(before.Started);
        Assert.Equal(Values, before.Started!.Values);
        // Stopped in the third value's run.
        int stopped = before.Finished.Count;
        Assert.Equal(2, stopped);
        Assert.Equal(Enumerable.Range(0, stopped), before.Finished.Keys.Order());
        Assert.NotNull(before.Finished[0].Diverged);
        Assert.Null(before.Finished[1].Diverged);
        Assert.Null(before.Chosen);
        var doneEvents = new Dictionary<int, long>();
        foreach (int i in before.Finished.Keys)
            doneEvents[i] = (await Read(sweep, s => RunJournal.ReadAsync(s, $"sweep-lr-{Values[i]}"))).Events;

        var resumed = new StringWriter();
        Assert.Equal(0, await SweepCommand.RunAsync(SweepArgs(sweep), resumed, interactive: false));
        string text = resumed.ToString();
        foreach (int i in before.Finished.Keys)
        {
            Assert.Contains($"train.lr = {Values[i]}: done already", text);
            Assert.DoesNotContain($"== train.lr = {Values[i]} (", text);
            // Not trained again: the run's history has not grown (no RunResumed, no checkpoint).
            Assert.Equal(doneEvents[i], (await Read(sweep, s => RunJournal.ReadAsync(s, $"sweep-lr-{Values[i]}"))).Events);
        }
        Assert.Contains($"== train.lr = {Values[stopped]} ({stopped + 1} of 4)", text);
        Assert.Contains("resuming from the checkpoint at step", text);

        // The choice is the first local minimum of the losses the evaluator recorded at each run's last step.
        var after = await Read(sweep, s => SweepJournal.ReadAsync(s, "sweep"));
        var losses = new List<double>();
        for (int i = 0; i < Values.Length; i++)
        {
            var run = await Read(sweep, s => RunJournal.ReadAsync(s, $"sweep-lr-{Values[i]}"));
            if (i == 0)
            {
                Assert.IsType<RunFailed>(run.Ended);
                losses.Add(double.NaN);
                continue;
            }
            Assert.IsType<RunFinished>(run.Ended);
            double recorded = run.Evaluations.Single(e => e.Step == Steps).ValidationNats;
            Assert.True(double.IsFinite(recorded));
            Assert.Equal(recorded, after.Finished[i].ValidationNats);
            losses.Add(recorded);
        }
        int chosen = SweepChoice.FirstLocalMinimum(losses) ?? throw new InvalidOperationException("no choice");
        Assert.Equal(chosen, after.Chosen!.Index);
        Assert.Contains($"chosen: train.lr = {Values[chosen]}", text);
        var rows = text.Split('\n').Where(l => l.Contains("  sweep-lr-", StringComparison.Ordinal)).ToList();
        Assert.Equal(Values.Length, rows.Count);
        for (int i = 0; i < Values.Length; i++)
        {
            Assert.StartsWith(Values[i], rows[i].TrimStart());
            Assert.Equal(i == chosen, rows[i].Contains("<- chosen", StringComparison.Ordinal));
            if (i > 0)
                Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"{losses[i]:F4}  {losses[i] / Math.Log(2),10:F4}  {Steps,6}  sweep-lr-{Values[i]}"), rows[i]);
        }
        Assert.Contains("diverged", rows[0]);

        // sweep.json and sweep.csv say the same.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "sweep.json")));
        Assert.Equal(Values[chosen], json.RootElement.GetProperty("chosen").GetString());
        var entries = json.RootElement.GetProperty("values").EnumerateArray().ToList();
        Assert.Equal(Values, entries.Select(e => e.GetProperty("value").GetString()));
        Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("validation_nats").ValueKind);
        for (int i = 1; i < Values.Length; i++) Assert.Equal(losses[i], entries[i].GetProperty("validation_nats").GetDouble());
        var csv = File.ReadAllLines(Path.Combine(sweep, "sweep.csv"));
        Assert.Equal("value,validation_nats,validation_bits,step,diverged,chosen,run_id", csv[0]);
        Assert.Equal(Values.Length + 1, csv.Length);
        Assert.StartsWith($"{Values[chosen]},{losses[chosen].ToString("R", CultureInfo.InvariantCulture)},", csv[chosen + 1]);
        Assert.Contains(",yes,sweep-lr-", csv[chosen + 1]);

        // Each value's final weights are those of a plain `imagegpt train` with that value.
        for (int i = 1; i < Values.Length; i++)
        {
            string plain = Path.Combine(_root, $"plain-{Values[i]}");
            Assert.Equal(0, await TrainCommand.RunAsync([.. Tiny, "--set", $"train.lr={Values[i]}", "--set", $"train.steps={Steps}", "--run-dir", plain], new StringWriter(), interactive: false));
            Assert.Equal(File.ReadAllBytes(Path.Combine(plain, $"step-{Steps}.safetensors")), File.ReadAllBytes(Path.Combine(sweep, $"lr-{Values[i]}", $"step-{Steps}.safetensors")));
        }

        // status reads the sweep (its table) and a value's run inside it (the sweep's store).
        var status = new StringWriter();
        Assert.Equal(0, StatusCommand.Run(["--run-dir", sweep], status));
        Assert.Contains("sweep 'sweep' in sqlite", status.ToString());
        Assert.Contains("  sweep of train.lr: validation loss at the last step of each run", status.ToString());
        Assert.Contains($"chosen: train.lr = {Values[chosen]}", status.ToString());
        var valueStatus = new StringWriter();
        Assert.Equal(0, StatusCommand.Run(["--run-dir", Path.Combine(sweep, "lr-0.01")], valueStatus));
        Assert.Contains("history of run 'sweep-lr-0.01'", valueStatus.ToString());
        Assert.Contains($"finished at step {Steps}", valueStatus.ToString());

        // Running it again trains nothing; another list or other settings are refused, naming the difference, and touch nothing.
        var files = Snapshot(sweep);
        var again = new StringWriter();
        Assert.Equal(0, await SweepCommand.RunAsync(SweepArgs(sweep), again, interactive: false));
        Assert.DoesNotContain("== train.lr", again.ToString());
        var list = await Assert.ThrowsAsync<UserError>(() => SweepCommand.RunAsync(SweepArgs(sweep, "[0.3,0.01]"), new StringWriter(), false));
        Assert.Equal($"sweep 'sweep' in {Path.Combine(sweep, "run.db")} was started with train.lr = [1e8,0.3,0.01,0.001], not [0.3,0.01]. " +
            "HINT: run the sweep again with the settings it was started with, or start a new one with another --run-dir", list.Message);
        var steps = await Assert.ThrowsAsync<UserError>(() => SweepCommand.RunAsync(SweepArgs(sweep, steps: Steps + 1), new StringWriter(), false));
        Assert.Contains($"was started with another config (train.steps: {Steps} -> {Steps + 1})", steps.Message);
        Assert.DoesNotContain('\n', steps.Message);
        // The validation subset decides the losses compared, so it is part of the sweep too.
        var measured = await Assert.ThrowsAsync<UserError>(() => SweepCommand.RunAsync([.. SweepArgs(sweep), "--set", "eval.validation-images=40"], new StringWriter(), false));
        Assert.Contains("(eval.validation-images: 50 -> 40)", measured.Message);
        Assert.Equal(files, Snapshot(sweep));
    }

    [Fact]
    public async Task By_default_the_sweep_stops_once_the_first_local_minimum_is_settled()
    {
        // 1e8 diverges, which is no improvement on 0.01: 0.01 is the first local minimum whatever 0.001 would give, so
        // 0.001 is not trained, neither now nor when the same command runs again.
        string sweep = Path.Combine(_root, "settled");
        var output = new StringWriter();
        Assert.Equal(0, await SweepCommand.RunAsync(SweepArgs(sweep, "[0.01,1e8,0.001]", steps: 40, all: false), output, interactive: false));
        string text = output.ToString();
        Assert.Contains("train.lr = 0.001: not trained: the first local minimum is settled before it", text);
        Assert.DoesNotContain("== train.lr = 0.001 (", text);
        Assert.Contains("(not trained: past the first local minimum)", text);
        Assert.Contains("chosen: train.lr = 0.01", text);
        Assert.False(Directory.Exists(Path.Combine(sweep, "lr-0.001")) && Directory.EnumerateFiles(Path.Combine(sweep, "lr-0.001"), "*.safetensors").Any());
        var history = await Read(sweep, s => SweepJournal.ReadAsync(s, "settled"));
        Assert.Equal([0, 1], history.Finished.Keys.Order());
        Assert.NotNull(history.Finished[1].Diverged);
        Assert.Equal(0, history.Chosen!.Index);

        var again = new StringWriter();
        Assert.Equal(0, await SweepCommand.RunAsync(SweepArgs(sweep, "[0.01,1e8,0.001]", steps: 40, all: false), again, interactive: false));
        Assert.DoesNotContain("== train.lr = 0.001 (", again.ToString());
        Assert.Equal([0, 1], (await Read(sweep, s => SweepJournal.ReadAsync(s, "settled"))).Finished.Keys.Order());

        // imagegpt train in the sweep's directory or a value's folder would journal into the sweep's store: refused, nothing written.
        var files = Snapshot(sweep);
        foreach (var (dir, says) in new[] { (sweep, "is a sweep's directory"), (Path.Combine(sweep, "lr-0.01"), $"is a value's folder of the sweep in {sweep}") })
        {
            var refused = await Assert.ThrowsAsync<UserError>(() => TrainCommand.RunAsync([.. Tiny, "--run-dir", dir], new StringWriter(), interactive: false));
            Assert.Contains(says, refused.Message);
            Assert.Contains("HINT", refused.Message);
        }
        Assert.Equal(files, Snapshot(sweep));
    }

    [Fact]
    public async Task A_value_whose_run_completed_without_its_evaluation_is_measured_as_the_evaluator_measures_it()
    {
        // As if the sweep had stopped between the value's final checkpoint and its evaluation: the value's run is complete
        // in the sweep's store, with no evaluation recorded (trained here with the evaluator off).
        string sweep = Path.Combine(_root, "fallback");
        string[] sets = [.. Tiny, "--set", "train.lr=0.01", "--set", $"train.steps={Steps}"];
        string reference = ConfigCommand.FindReference();
        // Tiny is --config FILE, then --set pairs.
        var resolved = RunConfigLoader.Layer(ConfigFactory.ParseFile(reference), sets[1], sets.Skip(2).Where((_, i) => i % 2 == 1).ToList()).Resolve();
        var config = RunConfigLoader.FromResolved(resolved, ConfigFactory.ParseFile(reference).Resolve(), Path.Combine(sweep, "lr-0.01"));
        config = config with { RunId = "fallback-lr-0.01", Eval = config.Eval with { Enabled = false } };
        Directory.CreateDirectory(config.RunDir);
        await using (var store = RunStore.Open(config.Checkpoint, sweep))
        {
            using var system = Akka.Actor.ActorSystem.Create("fallback", AkkaSettings.Build(resolved, store));
            try
            {
                var outcome = await TrainingRun.RunAsync(system, config, RunData.Prepare(config, null, TextWriter.Null), store.Blobs,
                    RunConfigLoader.IdentityJson(config), new Observers()).WaitAsync(TimeSpan.FromMinutes(3));
                Assert.Null(outcome.Error);
            }
            finally { await Akka.Actor.CoordinatedShutdown.Get(system).Run(Akka.Actor.CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(RunFiles.Patience); }
        }
        Assert.Empty((await Read(sweep, s => RunJournal.ReadAsync(s, "fallback-lr-0.01"))).Evaluations);

        var output = new StringWriter();
        Assert.Equal(0, await SweepCommand.RunAsync(SweepArgs(sweep, "[0.01]"), output, interactive: false));
        Assert.Contains($"the run is complete (checkpoint at step {Steps})", output.ToString());
        Assert.Contains($"measuring the validation loss of step {Steps}", output.ToString());
        double measured = (await Read(sweep, s => SweepJournal.ReadAsync(s, "fallback"))).Finished[0].ValidationNats;

        // The evaluator of a plain train of the same value records the same loss, to the bit.
        string plain = Path.Combine(_root, "plain-fallback");
        Assert.Equal(0, await TrainCommand.RunAsync([.. sets, "--run-dir", plain], new StringWriter(), interactive: false));
        double recorded = (await RunFiles.HistoryAsync(plain)).Evaluations.Single(e => e.Step == Steps).ValidationNats;
        Assert.Equal(BitConverter.DoubleToInt64Bits(recorded), BitConverter.DoubleToInt64Bits(measured));
    }

    /// <summary>The sweep's files and each value's folder's files (run.db's WAL files and status.json aside), by SHA-256.</summary>
    private static Dictionary<string, string> Snapshot(string sweep) => RunFiles.Snapshot(sweep, recursive: true, except: "status.json");

    [Theory]
    [InlineData(new[] { "train.lr=0.01" }, "no --set gives a list of values to sweep")]
    [InlineData(new[] { "train.lr=[0.01,fast]" }, "'fast' in --set 'train.lr=[0.01,fast]' is not a number")]
    [InlineData(new[] { "train.lr=[]" }, "--set 'train.lr=[]' is an empty list")]
    [InlineData(new[] { "train.lrr=[0.01,0.001]" }, "unknown setting 'train.lrr'")]
    [InlineData(new[] { "train.batch=[16,20.5]" }, "train.batch")]
    [InlineData(new[] { "train.lr=[0.01,0.001]", "eval.enabled=false" }, "a sweep chooses by validation loss")]
    public void Bad_input_is_one_line_exit_2_and_nothing_is_written(string[] sets, string expected)
    {
        string dir = Path.Combine(_root, "bad");
        var error = new StringWriter();
        int exit = Program.Run(["sweep", .. Tiny, .. sets.SelectMany(s => new[] { "--set", s }), "--steps", "10", "--run-dir", dir], new StringWriter(), error);
        Assert.Equal(2, exit);
        string line = error.ToString().TrimEnd('\n');
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("imagegpt sweep: error: ", line);
        Assert.Contains(expected, line);
        Assert.Contains("HINT: ", line);
        Assert.False(Directory.Exists(dir), $"{dir} was created");
    }
}
