using System.Diagnostics;
using System.Security.Cryptography;
using ImageGpt.Actors.History;
using ImageGpt.Host.Commands;
using ImageGpt.Nn;
using Xunit.Abstractions;

namespace ImageGpt.Host.Tests;

/// <summary>
/// `imagegpt train` end to end on a tiny model over real Fashion-MNIST files (installed by .ci/run):
/// resume after SIGKILL, the one-line errors for bad input, and that a refused command touches nothing.
/// </summary>
public sealed class TrainCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("igpt-train-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    internal static string Repo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ImageGpt.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    internal static readonly string[] Tiny =
    [
        "--config", Path.Combine(Repo(), "hocon", "fashion-mnist.conf"),
        "--set", "model.layers=2", "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.side=8",
        "--set", "data.limit=512", "--set", "train.batch=16", "--set", "train.shards=2", "--set", "train.steps=40",
        "--set", "train.warmup=5", "--set", "checkpoint.every=2", "--set", "checkpoint.keep=2", "--set", "eval.enabled=false",
        "--set", "log.every=1", "--set", "runtime.trainers=2",
    ];

    private string[] TinyIn(string runDir, params string[] extra) => [.. Tiny, "--run-dir", runDir, .. extra];

    private static async Task<int> Train(string[] args, StringWriter? output = null) =>
        await TrainCommand.RunAsync(args, output ?? new StringWriter(), interactive: false);

    private static Task<Checkpoint> Latest(string runDir) => RunFiles.LatestAsync(runDir);

    [Fact]
    public async Task A_run_killed_with_SIGKILL_and_resumed_ends_with_the_uninterrupted_weights()
    {
        string straight = Path.Combine(_root, "straight"), killed = Path.Combine(_root, "killed");
        // 1000 tiny steps take 4-5 s; each attempt is killed within 250 ms of its first step line, so even when
        // a loaded machine delivers that line late, the child is still training when the signal comes.
        Assert.Equal(0, await Train(TinyIn(straight, "--set", "train.steps=1000")));
        var expected = await Latest(straight);
        Assert.Equal(1000, expected.Step);

        // The kill moments are seeded and printed; IMAGEGPT_KILL_SEED replays a failure.
        int seed = int.TryParse(Environment.GetEnvironmentVariable("IMAGEGPT_KILL_SEED"), out int s) ? s : 20261123;
        var rng = new Random(seed);
        var delays = new List<int>();
        int kills = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            delays.Add(rng.Next(0, 250));
            log.WriteLine($"kill seed {seed}: attempt {attempt} is killed {delays[^1]} ms after its first step line");
            var (exit, killedIt, _) = await RunChildAndMaybeKill(TinyIn(killed, "--set", "train.steps=1000", "--resume"), TimeSpan.FromMilliseconds(delays[^1]));
            if (!killedIt) { Assert.Equal(0, exit); break; }
            kills++;
        }
        string replay = $"(kill seed {seed}, delays {string.Join(", ", delays)} ms)";
        Assert.True(kills >= 1, $"the child finished before it could be killed; the test did not test anything {replay}");
        var (finalExit, _, _) = await RunChildAndMaybeKill(TinyIn(killed, "--set", "train.steps=1000", "--resume"), null);
        Assert.Equal(0, finalExit);
        var actual = await Latest(killed);
        Assert.Equal(1000, actual.Step);
        Assert.True(expected.Parameters.SequenceEqual(actual.Parameters), $"the resumed run's weights differ {replay}");
        Assert.Equal(expected.AdamM, actual.AdamM);
        Assert.Equal(expected.AdamV, actual.AdamV);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "step-1000.safetensors")), File.ReadAllBytes(Path.Combine(killed, "step-1000.safetensors")));
    }

    [Fact]
    public async Task SIGTERM_finishes_the_step_writes_a_checkpoint_exits_130_and_the_run_resumes_to_the_same_weights()
    {
        // SIGTERM takes the same path as Ctrl-C (SIGINT). SIGINT itself is not sent: a test host started in the
        // background by a non-interactive shell passes SIGINT on as ignored, and the child would never see it.
        string straight = Path.Combine(_root, "straight"), stopped = Path.Combine(_root, "stopped");
        Assert.Equal(0, await Train(TinyIn(straight, "--set", "train.steps=1500")));
        // Before the signal, `imagegpt status` in this process reads the live run: its process, actors and history.
        string[]? live = null;
        var (exit, killed, output) = await RunChildAndMaybeKill(TinyIn(stopped, "--set", "train.steps=1500"), TimeSpan.FromMilliseconds(100), signal: "TERM",
            after: "checkpoint step 0 saved", whileTraining: () =>
            {
                // status.json is rewritten every second: read until it shows the trainers (bounded).
                var clock = Stopwatch.StartNew();
                do
                {
                    var text = new StringWriter();
                    Assert.Equal(0, StatusCommand.Run(["--run-dir", stopped], text));
                    live = text.ToString().Split('\n');
                }
                while (!live.Any(l => l.Contains("/trainer-1/trainer")) && clock.Elapsed < TimeSpan.FromSeconds(30));
            });
        Assert.True(killed, output);
        Assert.NotNull(live);
        Assert.Contains(live, l => l.Contains("run id stopped, phase training") && l.Contains("(alive)"));
        Assert.Contains(live, l => l.Contains("/user/node/trainer-1/trainer") && l.Contains("Running"));
        Assert.Contains(live, l => l.Contains("history of run 'stopped'"));
        Assert.Contains(live, l => l.Contains("running, or ended without a word"));
        Assert.Contains(live, l => l.Contains("checkpoints: ") && l.Contains("last step "));
        Assert.Equal(130, exit);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"stopped at step (\d+)/1500");
        Assert.True(match.Success, output);
        long stoppedAt = long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(stoppedAt, 1, 1499);
        Assert.Equal(stoppedAt, (await Latest(stopped)).Step);
        Assert.Contains("--resume", output);
        Assert.Equal(0, await Train(TinyIn(stopped, "--set", "train.steps=1500", "--resume")));
        Assert.Equal((await Latest(straight)).Parameters, (await Latest(stopped)).Parameters);

        var again = new StringWriter();
        var before = RunFiles.Snapshot(stopped);
        Assert.Equal(0, await Train(TinyIn(stopped, "--set", "train.steps=1500", "--resume"), again));
        Assert.Contains("already complete", again.ToString());
        Assert.Equal(before, RunFiles.Snapshot(stopped));
    }

    /// <summary>
    /// Runs imagegpt <paramref name="command"/> in a child process; once it prints a line starting with <paramref name="after"/> (by default its first step line;
    /// with <paramref name="when"/>, the first line it accepts), waits <paramref name="killAfter"/> and
    /// sends <paramref name="signal"/> (SIGKILL by default), <paramref name="whileTraining"/> having run first. With <paramref name="twice"/>, sends it
    /// again once the child has printed that it is stopping. <paramref name="holdStore"/>'s lock is taken on the line that
    /// <paramref name="when"/> (or <paramref name="after"/>) picks and held until the child has printed that it is stopping (with <paramref name="twice"/>, until it exits).
    /// Returns the exit code (-1 when SIGKILLed), whether a signal was sent, and the output.
    /// </summary>
    internal static async Task<(int Exit, bool Signalled, string Output)> RunChildAndMaybeKill(string[] args, TimeSpan? killAfter, string signal = "KILL", bool twice = false, string after = "step ", Action? whileTraining = null,
        Func<IDisposable>? holdStore = null, string command = "train", Func<string, bool>? when = null)
    {
        when ??= line => line.StartsWith(after, StringComparison.Ordinal);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imagegpt.dll"));
        psi.ArgumentList.Add(command);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        var training = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        IDisposable? held = null;
        child.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (!training.Task.IsCompleted && when(e.Data))
            {
                // Taken here, on the line itself, so the child cannot get past the store before the test holds it.
                held = holdStore?.Invoke();
                training.TrySetResult();
            }
            if (e.Data.Contains("finishing the current step", StringComparison.Ordinal)) stopping.TrySetResult();
        };
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        bool killed = false;
        if (killAfter is { } delay)
        {
            var exited = child.WaitForExitAsync();
            if (await Task.WhenAny(training.Task, exited) == training.Task)
            {
                whileTraining?.Invoke();
                await Task.Delay(delay);
                if (!child.HasExited)
                {
                    if (signal == "KILL") child.Kill(entireProcessTree: true);
                    else
                    {
                        Process.Start("kill", ["-" + signal, child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
                        using var bounded = new CancellationTokenSource(TimeSpan.FromMinutes(1));
                        if (twice || held is not null) await stopping.Task.WaitAsync(bounded.Token);
                        if (twice)
                        {
                            Process.Start("kill", ["-" + signal, child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
                            await child.WaitForExitAsync(bounded.Token);
                        }
                    }
                    killed = true;
                }
            }
        }
        held?.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await child.WaitForExitAsync(timeout.Token);
        if (!killed && child.ExitCode != 0) throw new Xunit.Sdk.XunitException($"imagegpt exited {child.ExitCode}:\n{output}");
        child.WaitForExit();
        lock (output) return (killed && signal == "KILL" ? -1 : child.ExitCode, killed, output.ToString());
    }

    [Fact]
    public async Task One_trainer_and_two_trainers_write_the_same_weights()
    {
        string one = Path.Combine(_root, "one"), two = Path.Combine(_root, "two");
        Assert.Equal(0, await Train(TinyIn(one, "--set", "runtime.trainers=1", "--set", "train.steps=12")));
        Assert.Equal(0, await Train(TinyIn(two, "--set", "runtime.trainers=2", "--set", "train.steps=12")));
        Assert.Equal((await Latest(one)).Parameters, (await Latest(two)).Parameters);
        var csv = File.ReadAllLines(Path.Combine(one, "metrics.csv"));
        Assert.StartsWith("step,epoch,loss", csv[0]);
        Assert.Equal(13, csv.Length);
        Assert.Equal(12, File.ReadAllLines(Path.Combine(one, "metrics.jsonl")).Length);
    }

    [Fact]
    public async Task Each_checkpoint_is_evaluated_and_the_results_are_persisted_printed_and_compared()
    {
        var (history, text) = await TrainEvaluated("eval", "--set", "eval.validation-images=20", "--set", "eval.completions.per-image=2");
        var evals = history.Evaluations;
        // Every checkpoint is evaluated or, when the evaluator fell behind, reported as skipped; the first and the last always are.
        Assert.Equal([0L, 4, 8], evals.SelectMany(e => e.Skipped.Append(e.Step)).Order());
        Assert.Equal((0L, 8L), (evals[0].Step, evals[^1].Step));
        Assert.IsType<RunFinished>(history.Ended);
        // A zero-initialised head predicts the uniform distribution: exactly ln 16 nats at step 0.
        Assert.Equal(Math.Log(16), evals[0].ValidationNats, 5);
        Assert.True(evals[^1].ValidationNats < evals[0].ValidationNats);
        Assert.Equal(["0", "1", "2 (ln_f)"], evals[0].Probe.Select(p => p.Layer));
        Assert.Equal("raw pixels", evals[0].RawPixels!.Layer);
        Assert.Equal(3, evals[^1].Probe.Count);
        Assert.Null(evals[^1].RawPixels);
        Assert.All(evals, e => Assert.True(File.Exists(e.CompletionsPng)));
        Assert.Contains("evaluation of step 8", text);
        Assert.Contains("2 (ln_f)", text);
        Assert.Contains("linear probe (in-run subsets), best layer by validation: step 0:", text);
        Assert.Contains("validation loss: step 0: 4.0000 bits/token", text);
    }

    [Fact]
    public async Task A_bert_run_is_evaluated_by_its_own_objectives_loss_and_completes_no_images()
    {
        var (history, text) = await TrainEvaluated("bert", "--set", "model.objective=bert", "--set", "eval.validation-images=40");
        var evals = history.Evaluations;
        Assert.IsType<RunFinished>(history.Ended);
        Assert.Equal((0L, 8L), (evals[0].Step, evals[^1].Step));
        // The masked positions' loss: ln 16 with the zero-initialised head, then falling.
        Assert.Equal(Math.Log(16), evals[0].ValidationNats, 5);
        Assert.True(evals[^1].ValidationNats < evals[0].ValidationNats);
        Assert.All(evals, e => Assert.Equal(3, e.Probe.Count));
        Assert.All(evals, e => Assert.Null(e.CompletionsPng));
        Assert.Contains("no completions: a BERT model has no left-to-right order to sample in", text);
        Assert.DoesNotContain("evaluation failed", text);
    }

    /// <summary>The tiny run for 8 steps with a checkpoint and an evaluation (probe on 60/20/20 images, 2 completions) every 4.</summary>
    private async Task<(RunHistory History, string Output)> TrainEvaluated(string name, params string[] extra)
    {
        string dir = Path.Combine(_root, name);
        var output = new StringWriter();
        Assert.Equal(0, await Train(TinyIn(dir, ["--set", "train.steps=8", "--set", "checkpoint.every=4", "--set", "eval.enabled=true",
            "--set", "eval.probe.train=60", "--set", "eval.probe.validation=20", "--set", "eval.probe.test=20", "--set", "eval.completions.images=2", .. extra]), output));
        return (await RunFiles.HistoryAsync(dir), output.ToString());
    }

    [Fact]
    public async Task A_finished_run_is_not_overwritten_and_a_resume_with_another_config_is_refused()
    {
        string dir = Path.Combine(_root, "run");
        Assert.Equal(0, await Train(TinyIn(dir, "--set", "train.steps=6")));
        var before = RunFiles.Snapshot(dir);

        var fresh = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(dir, "--set", "train.steps=6")));
        Assert.Contains("already holds run 'run'", fresh.Message);
        Assert.Contains("--resume", fresh.Message);

        var other = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(dir, "--set", "train.steps=6", "--set", "train.lr=2e-3", "--resume")));
        Assert.Contains("train.lr", other.Message);
        Assert.DoesNotContain('\n', other.Message);
        Assert.Equal(before, RunFiles.Snapshot(dir));
    }

    [Theory]
    [InlineData("train.lrr=1", "train.lrr")]
    [InlineData("train.batch=abc", "train.batch")]
    [InlineData("model.heads=3", "heads")]
    [InlineData("data.dir=/nonexistent/fashion", "/nonexistent/fashion")]
    public async Task Bad_settings_are_one_line_errors_naming_the_value(string set, string named)
    {
        var e = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(Path.Combine(_root, "bad"), "--set", set)));
        Assert.Contains(named, e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task An_unwritable_run_directory_is_a_one_line_error()
    {
        string file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "x");
        var e = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(Path.Combine(file, "run"))));
        Assert.Contains("a-file", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_corrupted_run_db_is_a_one_line_error_and_is_left_as_it_was()
    {
        string dir = Path.Combine(_root, "corrupt");
        Directory.CreateDirectory(dir);
        byte[] garbage = System.Text.Encoding.ASCII.GetBytes(new string('#', 9000));
        File.WriteAllBytes(Path.Combine(dir, "run.db"), garbage);
        var e = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(dir, "--resume")));
        Assert.Contains(Path.Combine(dir, "run.db"), e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(["run.db"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal(garbage, File.ReadAllBytes(Path.Combine(dir, "run.db")));
    }

    [Fact]
    public async Task An_unreachable_postgres_is_a_one_line_error_and_nothing_is_written()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        string dir = Path.Combine(_root, "pg");
        var e = await Assert.ThrowsAsync<UserError>(() => Train(TinyIn(dir, "--set", "checkpoint.store=postgres",
            "--set", $"checkpoint.postgres=\"Host=127.0.0.1;Port={port};Username=u;Password=hunter2;Database=d;Timeout=3\"")));
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData("akka.loglevl=INFO", "akka.loglevel")]
    [InlineData("akka.coordinated-shutdown.run-by-clr-shutdown-hook=maybe", "on/off")]
    [InlineData("akka.persistence.journal.sql.batch-size=lots", "integer")]
    public async Task A_bad_akka_setting_is_one_line_on_stderr_exit_2_and_nothing_is_written(string set, string named)
    {
        string dir = Path.Combine(_root, "akka");
        var (exit, stderr) = await RunCommand(["train", .. TinyIn(dir, "--set", set)]);
        Assert.Equal(2, exit);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("imagegpt train: error: ", line);
        Assert.Contains(set.Split('=')[0], line);
        Assert.Contains(named, line);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public async Task A_read_only_run_directory_is_one_line_on_stderr_exit_2_and_its_run_is_left_as_it_was()
    {
        // Root writes through file permissions, so as root the run directory is a tmpfs remounted read-only.
        string dir = Path.Combine(_root, "readonly");
        Directory.CreateDirectory(dir);
        bool root = Environment.UserName == "root";
        if (root) Sh($"mount -t tmpfs -o size=64m tmpfs '{dir}'");
        try
        {
            // In a child process: this one would keep run.db open in its connection pool, and a busy mount cannot turn read-only.
            Assert.Equal((0, ""), await RunCommand(["train", .. TinyIn(dir, "--set", "train.steps=6")]));
            var before = Hashes(dir);
            if (root) Sh($"mount -o remount,ro '{dir}'");
            else Sh($"chmod a-w '{dir}'");

            var (exit, stderr) = await RunCommand(["train", .. TinyIn(dir, "--set", "train.steps=10", "--resume")]);
            Assert.Equal(2, exit);
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("imagegpt train: error: ", line);
            Assert.Contains(dir, line);
            Assert.Contains("HINT", line);
            Assert.Equal(before, Hashes(dir));
        }
        finally
        {
            if (root) Sh($"umount '{dir}'");
            else Sh($"chmod u+w '{dir}'");
        }
    }

    private static Dictionary<string, string> Hashes(string dir) =>
        Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static void Sh(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", command]) { RedirectStandardError = true })!;
        string error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000) && p.ExitCode == 0, $"{command}: {error}");
    }

    private static async Task<(int Exit, string Stderr)> RunCommand(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imagegpt.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        string stderr = await child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        await stdout;
        return (child.ExitCode, stderr);
    }

    [Fact]
    public async Task A_second_SIGTERM_quits_at_once_without_the_final_checkpoint_and_the_run_resumes_from_the_last_one()
    {
        // Akka's CLR shutdown hook is off (reference.conf): the first signal runs the coordinated shutdown (finish the
        // step, checkpoint), the second exits at once. Were the hook on, exiting would run the shutdown again and wait
        // for the very checkpoint the user chose to skip. So that the second signal surely lands while the first is still
        // at work, this test holds run.db's write lock from before the first signal until the child exits: the final
        // checkpoint's event (and so the end of the shutdown) waits for the lock, as it would for a slow database.
        // (Taken on the line "checkpoint step 0 saved", the lock also holds training at two checkpoints outstanding.)
        string dir = Path.Combine(_root, "twice");
        string[] args = TinyIn(dir, "--set", "train.steps=3000", "--set", "model.width=64", "--set", "model.side=14", "--set", "checkpoint.every=50");
        var (exit, signalled, output) = await RunChildAndMaybeKill(args, TimeSpan.FromMilliseconds(100), signal: "TERM", twice: true, after: "checkpoint step 0 saved",
            holdStore: () => HoldWriteLock(Path.Combine(dir, RunStore.SqliteFileName)));
        Assert.True(signalled, output);
        Assert.Equal(130, exit);
        Assert.Contains("SIGTERM: finishing the current step", output);
        Assert.DoesNotMatch(@"checkpoint step \d+ saved .*final", output);
        Assert.DoesNotContain("stopped at step", output);
        var history = await RunFiles.HistoryAsync(dir);
        Assert.Null(history.Ended);
        long last = history.Checkpoints[^1].Step;
        Assert.Equal(0, last % 50);
        Assert.Equal(last, (await Latest(dir)).Step);
    }

    /// <summary>Takes the SQLite write lock of <paramref name="db"/> (readers go on, writers wait) until disposed.</summary>
    internal static Microsoft.Data.Sqlite.SqliteConnection HoldWriteLock(string db)
    {
        var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False;Default Timeout=60");
        c.Open();
        using var begin = c.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        begin.ExecuteNonQuery();
        return c;
    }

    [Fact]
    public async Task The_command_line_prints_bad_input_as_one_line_on_stderr_and_exits_2()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "imagegpt.dll"));
        foreach (var a in (string[])["train", "--run-dir", Path.Combine(_root, "x"), "--set", "train.lrr=1"]) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        string stderr = await child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync();
        Assert.Equal(2, child.ExitCode);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("imagegpt train: error: ", lines[0]);
        Assert.Contains("train.lr", lines[0]);
    }
}
