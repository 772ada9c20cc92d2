using System.Globalization;
using System.Text.Json;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Training;

/// <summary>
/// metrics.jsonl and metrics.csv in the run directory: one row every <c>every</c> steps and at the last
/// step. A resumed run first drops the rows past its checkpoint (they belong to the interrupted
/// attempt and are about to be recomputed), so each step appears once.
/// </summary>
public sealed class MetricsLog : ITrainingObserver, IDisposable
{
    private const string Header = "step,epoch,loss,grad_norm,lr,tokens_per_s,data_wait,trainer_busy,elapsed_s,mfu";
    private readonly StreamWriter _jsonl;
    private readonly StreamWriter _csv;
    private readonly int _every;

    public MetricsLog(string runDir, int every, long resumeStep)
    {
        _every = every;
        string jsonl = Path.Combine(runDir, "metrics.jsonl"), csv = Path.Combine(runDir, "metrics.csv");
        Truncate(jsonl, line => JsonDocument.Parse(line).RootElement.GetProperty("step").GetInt64(), resumeStep, header: null);
        Truncate(csv, line => long.Parse(line.AsSpan(0, line.IndexOf(',')), CultureInfo.InvariantCulture), resumeStep, Header);
        _jsonl = new StreamWriter(jsonl, append: true) { AutoFlush = true };
        _csv = new StreamWriter(csv, append: true) { AutoFlush = true };
        if (new FileInfo(csv).Length == 0) _csv.WriteLine(Header);
    }

    public void Step(StepReport r)
    {
        if (r.Step % _every != 0 && r.Step != r.TotalSteps) return;
        var ci = CultureInfo.InvariantCulture;
        _jsonl.WriteLine(string.Create(ci,
            $"{{\"step\":{r.Step},\"epoch\":{r.Epoch},\"loss\":{Num(r.Loss)},\"grad_norm\":{Num(r.GradNorm)},\"lr\":{Num(r.Lr)},\"tokens_per_s\":{r.TokensPerSecond:F1},\"data_wait\":{r.DataWaitFraction:F5},\"trainer_busy\":{r.TrainerBusyFraction:F4},\"elapsed_s\":{r.ElapsedSeconds:F3},\"mfu\":{r.Mfu:F4}}}"));
        _csv.WriteLine(string.Create(ci,
            $"{r.Step},{r.Epoch},{Num(r.Loss)},{Num(r.GradNorm)},{Num(r.Lr)},{r.TokensPerSecond:F1},{r.DataWaitFraction:F5},{r.TrainerBusyFraction:F4},{r.ElapsedSeconds:F3},{r.Mfu:F4}"));
    }

    private static string Num(float v) => float.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : $"\"{v.ToString(CultureInfo.InvariantCulture)}\"";

    public void CheckpointSaved(long step, double seconds, bool final) { }
    public void Evaluation(EvaluationRecorded result, string table) { }
    public void Warning(string message) { }

    private static void Truncate(string path, Func<string, long> stepOf, long keepThrough, string? header)
    {
        if (!File.Exists(path)) return;
        // The header is this version's (a run from before the mfu column keeps its rows, now under the new header).
        var kept = header is null ? new List<string>() : [header];
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            if (header is not null && line.StartsWith("step,", StringComparison.Ordinal)) continue;
            try { if (stepOf(line) <= keepThrough) kept.Add(line); }
            catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or ArgumentException) { }
        }
        string tmp = path + ".tmp";
        File.WriteAllLines(tmp, kept);
        File.Move(tmp, path, overwrite: true);
    }

    public void Dispose()
    {
        _jsonl.Dispose();
        _csv.Dispose();
    }
}
