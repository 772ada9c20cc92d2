using ImageGpt.Actors.Training;

namespace ImageGpt.Actors.Tests.Training;

public sealed class MetricsLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("igpt-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static StepReport Report(long step) => new(step, 10, 0, 1.5f, 0.5f, 1e-3f, 1000, 0.01, 0.9, step, 0.25);

    [Fact]
    public void Rows_are_written_every_N_steps_and_at_the_last_step()
    {
        using (var log = new MetricsLog(_dir, every: 4, resumeStep: 0))
            for (long s = 1; s <= 10; s++) log.Step(Report(s));
        var csv = File.ReadAllLines(Path.Combine(_dir, "metrics.csv"));
        Assert.Equal(["step", "4", "8", "10"], csv.Select(l => l.Split(',')[0]));
        var jsonl = File.ReadAllLines(Path.Combine(_dir, "metrics.jsonl"));
        Assert.Equal(3, jsonl.Length);
        Assert.Equal(8, System.Text.Json.JsonDocument.Parse(jsonl[1]).RootElement.GetProperty("step").GetInt64());
        Assert.Equal(0.25, System.Text.Json.JsonDocument.Parse(jsonl[1]).RootElement.GetProperty("mfu").GetDouble());
        Assert.Equal(("mfu", "0.2500"), (csv[0].Split(',')[^1], csv[1].Split(',')[^1]));
    }

    [Fact]
    public void A_run_resumed_from_before_the_mfu_column_keeps_its_rows_under_the_new_header()
    {
        string csv = Path.Combine(_dir, "metrics.csv");
        File.WriteAllLines(csv, ["step,epoch,loss,grad_norm,lr,tokens_per_s,data_wait,trainer_busy,elapsed_s", "1,0,1.5,0.5,0.001,1000.0,0.01000,0.9000,1.000"]);
        using (var log = new MetricsLog(_dir, every: 1, resumeStep: 1))
            log.Step(Report(2));
        var lines = File.ReadAllLines(csv);
        Assert.Equal(["step", "1", "2"], lines.Select(l => l.Split(',')[0]));
        Assert.EndsWith(",mfu", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void A_resumed_run_drops_the_rows_past_its_checkpoint_so_every_step_appears_once()
    {
        using (var log = new MetricsLog(_dir, every: 1, resumeStep: 0))
            for (long s = 1; s <= 7; s++) log.Step(Report(s));
        using (var log = new MetricsLog(_dir, every: 1, resumeStep: 4))
            for (long s = 5; s <= 10; s++) log.Step(Report(s));
        var steps = File.ReadAllLines(Path.Combine(_dir, "metrics.csv")).Skip(1).Select(l => long.Parse(l.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), steps);
        Assert.Equal(10, File.ReadAllLines(Path.Combine(_dir, "metrics.jsonl")).Length);
        Assert.Single(File.ReadAllLines(Path.Combine(_dir, "metrics.csv")), l => l.StartsWith("step,", StringComparison.Ordinal));
    }
}
