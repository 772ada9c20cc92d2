using System.Text.Json;
using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// metrics.jsonl of a run directory (one line every log.every steps, written by MetricsLog) as a loss curve and a last
/// step report; read again only when the file has changed.
/// </summary>
public sealed class MetricsFile(string runDir)
{
    public const string FileName = "metrics.jsonl";

    private readonly Lock _lock = new();
    private (long Length, DateTime Written) _seen;
    private (IReadOnlyList<LossPoint> Loss, StepReport? Last) _read = ([], null);

    /// <summary>The loss of every logged step and the last line (its TotalSteps is 0: the file does not say).</summary>
    public (IReadOnlyList<LossPoint> Loss, StepReport? Last) Read()
    {
        var file = new FileInfo(Path.Combine(runDir, FileName));
        lock (_lock)
        {
            if (!file.Exists) return ([], null);
            var key = (file.Length, file.LastWriteTimeUtc);
            if (key == _seen) return _read;
            var loss = new List<LossPoint>();
            StepReport? last = null;
            try
            {
                using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                while (reader.ReadLine() is { } line)
                {
                    if (Parse(line) is not { } r) continue;
                    loss.Add(new LossPoint(r.Step, r.Loss));
                    last = r;
                }
            }
            catch (IOException) { return _read; }
            (_seen, _read) = (key, (loss, last));
            return _read;
        }
    }

    /// <summary>One line, or null for a line being written or damaged.</summary>
    internal static StepReport? Parse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            static float F(JsonElement v) => v.ValueKind == JsonValueKind.Number ? v.GetSingle() : float.NaN;
            return new StepReport(e.GetProperty("step").GetInt64(), 0, e.GetProperty("epoch").GetInt64(), F(e.GetProperty("loss")),
                F(e.GetProperty("grad_norm")), F(e.GetProperty("lr")), e.GetProperty("tokens_per_s").GetDouble(), e.GetProperty("data_wait").GetDouble(),
                e.GetProperty("trainer_busy").GetDouble(), e.GetProperty("elapsed_s").GetDouble(),
                e.TryGetProperty("mfu", out JsonElement mfu) ? mfu.GetDouble() : double.NaN);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
