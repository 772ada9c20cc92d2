using System.Net;
using System.Text.Json;
using System.Xml.Linq;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Host.Commands;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn.Model;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Host.Tests.Dashboard;

/// <summary>
/// `imagegpt dashboard` on a hand-made run directory (events journaled through the run store, status.json and
/// metrics.jsonl written as a training process writes them): the real server on 127.0.0.1, port 0, read with HttpClient.
/// Every number the API returns is checked against what was written.
/// </summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    private const string RunId = "dash-api";
    private static readonly DateTimeOffset At = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly GptConfig Model = new(2, 16, 2, 16, 8, 0, Objective.Autoregressive, 1);
    private const int Batch = 16;

    private readonly string _dir = Path.Combine(Directory.CreateTempSubdirectory("dash-api-").FullName, RunId);
    private DashboardHost? _host;

    private HttpClient Http => _host!.Http;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await RunFiles.RecordAsync(_dir, RunId,
            new RunStarted(RunId, Identity, "[]", 40, At),
            new CheckpointCommitted(20, 1, 4, 20, 1, "20-a", 12000, new string('a', 64), 0.25, At.AddMinutes(1)),
            new CheckpointCommitted(40, 2, 8, 40, 1, "40-b", 3 << 20, "0123456789abcdef" + new string('b', 48), 0.5, At.AddMinutes(2)),
            new EvaluationRecorded(20, 2.5, 2.5 / Math.Log(2), [new ProbeRow("0", 1, 0.5, 0.45), new ProbeRow("1", 10, 0.6, 0.55), new ProbeRow("2 (ln_f)", 1, 0.55, 0.5)],
                new ProbeRow("raw pixels", 0.1, 0.81, 0.8), Path.Combine(_dir, "completions-step-20.png"), 3, [], At.AddMinutes(1)),
            new EvaluationRecorded(40, 2.0, 2.0 / Math.Log(2), [new ProbeRow("0", 1, 0.55, 0.5), new ProbeRow("1", 10, 0.7, 0.65), new ProbeRow("2 (ln_f)", 1, 0.6, 0.6)],
                null, null, 4, [30], At.AddMinutes(2)),
            new RunFinished(40, At.AddMinutes(3)));
        Status().Write(_dir);
        File.WriteAllLines(Path.Combine(_dir, MetricsFile.FileName),
            Enumerable.Range(1, 4).Select(i => $"{{\"step\":{10 * i},\"epoch\":{i / 2},\"loss\":{2.8 - 0.2 * i:R},\"grad_norm\":0.5,\"lr\":0.001,\"tokens_per_s\":{1000 * i}.0,\"data_wait\":0.01,\"trainer_busy\":0.8,\"elapsed_s\":{i}.5}}")
                .Append("{\"step\":50,\"epoch\":"));
        File.WriteAllBytes(Path.Combine(_dir, "completions-step-20.png"), [0x89, (byte)'P', (byte)'N', (byte)'G']);
        File.WriteAllBytes(Path.Combine(_dir, "step-40.safetensors"), [1, 2, 3, 4, 5]);
        _host = await DashboardHost.StartAsync(["--run-dir", _dir, "--port", "0"]);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);
    }

    private static string Identity =>
        """{"model":{"classes":0,"heads":2,"layers":2,"objective":"autoregressive","seed":1,"side":8,"vocab":16,"width":16},"train":{"batch":""" + Batch + "}}";

    private static RunStatus Status() => new(
        Environment.ProcessId, DateTime.UtcNow, RunId, RunPhase.Finished, 40, 40, 2.0, 4000, 0.01, null,
        new HealthSnapshot("imagegpt", DateTime.UtcNow,
        [
            new ActorHealth("akka://imagegpt/user/run", nameof(RunActor), ActorState.Running, 0, 57, 1.5, 0, null, null),
            new ActorHealth("akka://imagegpt/user/run/trainer-0/trainer", nameof(TrainerActor), ActorState.Running, 3, 1234, 40.2, 0, null, null),
            new ActorHealth("akka://imagegpt/user/run/trainer-1/trainer", nameof(TrainerActor), ActorState.Restarting, 0, 999, 39.9, 1,
                new FailureInfo("System.InvalidOperationException", "injected", new DateTime(2026, 11, 23, 12, 3, 4, DateTimeKind.Utc)), null),
        ], DeadLetters: 5));

    private async Task<JsonElement> Json(string path)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType!.ToString());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    [Fact]
    public async Task Run_reports_progress_from_status_and_metrics_with_bits_mfu_and_the_ending()
    {
        JsonElement run = await Json("/api/run");
        Assert.Equal(RunId, run.GetProperty("runId").GetString());
        Assert.Equal("finished", run.GetProperty("phase").GetString());
        Assert.True(run.GetProperty("live").GetBoolean());
        Assert.Equal((40, 40), (run.GetProperty("step").GetInt64(), run.GetProperty("totalSteps").GetInt64()));
        // The last complete line of metrics.jsonl (the half-written one after it is skipped).
        Assert.Equal(2.0, run.GetProperty("loss").GetDouble(), 6);
        Assert.Equal(2.0 / Math.Log(2), run.GetProperty("lossBits").GetDouble(), 6);
        Assert.Equal(4000, run.GetProperty("tokensPerSecond").GetDouble());
        Assert.Equal(0.8, run.GetProperty("trainerBusy").GetDouble());
        Assert.Equal(2, run.GetProperty("epoch").GetInt64());
        // A metrics line without "mfu" (written before the column existed): model FLOPs per token of the journaled model
        // x tokens/s over two trainers' cores at the nominal core ceiling.
        Assert.Equal(Model.TrainingFlopsPerToken * 4000 / (Mfu.CoreCeilingGflops * 1e9 * 2), run.GetProperty("mfu").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, run.GetProperty("etaSeconds").ValueKind);
        Assert.Equal((2, 2), (run.GetProperty("checkpoints").GetInt32(), run.GetProperty("evaluations").GetInt32()));
        Assert.Equal("finished at step 40", run.GetProperty("ended").GetString());
    }

    [Fact]
    public async Task Loss_gives_the_logged_training_loss_and_each_evaluations_validation_loss()
    {
        JsonElement loss = await Json("/api/loss");
        var training = loss.GetProperty("training").EnumerateArray().Select(p => (p.GetProperty("step").GetInt64(), p.GetProperty("nats").GetDouble())).ToList();
        Assert.Equal([10L, 20, 30, 40], training.Select(p => p.Item1));
        Assert.Equal(2.8 - 0.2 * 3, training[2].Item2, 6);
        var validation = loss.GetProperty("validation").EnumerateArray().Select(p => (p.GetProperty("step").GetInt64(), p.GetProperty("nats").GetDouble())).ToList();
        Assert.Equal([(20L, 2.5), (40L, 2.0)], validation);
    }

    [Fact]
    public async Task Evaluations_carry_every_layers_probe_the_baseline_the_skipped_steps_and_the_completions_link()
    {
        var evals = (await Json("/api/evaluations")).EnumerateArray().ToList();
        Assert.Equal([20L, 40], evals.Select(e => e.GetProperty("step").GetInt64()));
        var probe = evals[1].GetProperty("probe").EnumerateArray().ToList();
        Assert.Equal(["0", "1", "2 (ln_f)"], probe.Select(p => p.GetProperty("layer").GetString()));
        Assert.Equal(0.65, probe[1].GetProperty("test").GetDouble());
        Assert.Equal(0.7, probe[1].GetProperty("validation").GetDouble());
        Assert.Equal(10, probe[1].GetProperty("bestC").GetDouble());
        Assert.Equal(0.8, evals[0].GetProperty("rawPixels").GetProperty("test").GetDouble());
        Assert.Equal([30L], evals[1].GetProperty("skipped").EnumerateArray().Select(s => s.GetInt64()));
        Assert.Equal("/files/completions-step-20.png", evals[0].GetProperty("completions").GetString());
        Assert.Equal(JsonValueKind.Null, evals[1].GetProperty("completions").ValueKind);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], await Http.GetByteArrayAsync("/files/completions-step-20.png"));
    }

    [Fact]
    public async Task Checkpoints_list_step_time_size_sha256_and_the_safetensors_link_where_the_file_exists()
    {
        var checkpoints = (await Json("/api/checkpoints")).EnumerateArray().ToList();
        Assert.Equal([20L, 40], checkpoints.Select(c => c.GetProperty("step").GetInt64()));
        Assert.Equal(3 << 20, checkpoints[1].GetProperty("bytes").GetInt64());
        Assert.Equal("0123456789abcdef" + new string('b', 48), checkpoints[1].GetProperty("sha256").GetString());
        Assert.Equal(At.AddMinutes(2), checkpoints[1].GetProperty("at").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, checkpoints[0].GetProperty("safetensors").ValueKind);
        Assert.Equal("/files/step-40.safetensors", checkpoints[1].GetProperty("safetensors").GetString());
        Assert.Equal([1, 2, 3, 4, 5], await Http.GetByteArrayAsync("/files/step-40.safetensors"));
    }

    [Fact]
    public async Task An_event_written_to_the_store_after_a_read_shows_at_the_next_request()
    {
        Assert.Equal(2, (await Json("/api/checkpoints")).GetArrayLength());
        await RunFiles.RecordAsync(_dir, RunId, new CheckpointsPruned([20], At.AddMinutes(4)));
        var steps = (await Json("/api/checkpoints")).EnumerateArray().Select(c => c.GetProperty("step").GetInt64());
        Assert.Equal([40L], steps);
    }

    [Theory]
    [InlineData("/files/secret")]
    [InlineData("/files/run.db")]
    [InlineData("/files/..%2Fsecret")]
    [InlineData("/files/step-20.safetensors")]
    public async Task Only_the_runs_completions_and_safetensors_are_served(string path)
    {
        File.WriteAllText(Path.Combine(_dir, "secret"), "s3cr3t");
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Cluster_shows_this_node_alone_with_every_role_and_its_actor_tree_from_status()
    {
        JsonElement cluster = await Json("/api/cluster");
        var member = Assert.Single(cluster.GetProperty("members").EnumerateArray());
        Assert.Equal(["aggregator", "trainer", "data"], member.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.True(member.GetProperty("leader").GetBoolean());
        Assert.Equal(cluster.GetProperty("self").GetString(), cluster.GetProperty("leader").GetString());
        var actors = member.GetProperty("actors");
        Assert.Equal(5, actors.GetProperty("deadLetters").GetInt64());
        var trainer = actors.GetProperty("actors").EnumerateArray().Single(a => a.GetProperty("path").GetString()!.EndsWith("trainer-1/trainer", StringComparison.Ordinal));
        Assert.Equal("Restarting", trainer.GetProperty("state").GetString());
        Assert.Equal("injected", trainer.GetProperty("lastFailure").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Health_live_and_ready_answer_200_with_json()
    {
        Assert.Equal("live", (await Json("/health/live")).GetProperty("status").GetString());
        Assert.Equal("ready", (await Json("/health/ready")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_probe_chart_has_a_line_per_evaluated_checkpoint_and_the_raw_pixel_baseline()
    {
        using var response = await Http.GetAsync("/charts/probe.svg");
        Assert.StartsWith("image/svg+xml", response.Content.Headers.ContentType!.ToString());
        XDocument svg = XDocument.Parse(await response.Content.ReadAsStringAsync());
        XNamespace ns = "http://www.w3.org/2000/svg";
        var series = svg.Descendants(ns + "g").Where(g => (string?)g.Attribute("class") == "series").ToList();
        Assert.Equal(["step 20", "step 40", "raw pixels"], series.Select(g => (string)g.Attribute("data-name")!));
        Assert.Equal(["3", "3", "2"], series.Select(g => (string)g.Attribute("data-points")!));
        XDocument loss = XDocument.Parse(await Http.GetStringAsync("/charts/loss.svg"));
        Assert.Equal(["4", "2"], loss.Descendants(ns + "g").Where(g => (string?)g.Attribute("class") == "series").Select(g => (string)g.Attribute("data-points")!));
        XDocument.Parse(await Http.GetStringAsync("/charts/validation-vs-probe.svg"));
    }

    [Fact]
    public async Task The_page_and_its_assets_are_served_from_the_assembly_and_fetch_nothing_from_elsewhere()
    {
        string html = await Http.GetStringAsync("/");
        Assert.Contains("<script src=\"app.js\">", html);
        foreach (string asset in EmbeddedAssets.Names)
        {
            string text = await Http.GetStringAsync(asset == "index.html" ? "/" : "/" + asset);
            Assert.DoesNotMatch(@"(src|href)=""(https?:)?//", text);
            Assert.DoesNotContain("import(", text);
        }
        Assert.Equal(["app.css", "app.js", "index.html"], EmbeddedAssets.Names.Order());
    }
}
