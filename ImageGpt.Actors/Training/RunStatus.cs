using System.Text.Json;
using System.Text.Json.Serialization;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Training;

/// <summary>
/// What a training process tells the outside world about itself, rewritten about once a second as
/// status.json in the run directory (write to a temporary file, then rename, so a reader never sees
/// half a file). <c>imagegpt status</c> reads it together with the run's history in its store.
/// </summary>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="DataWaitFraction">Share of trainer time spent waiting for batches.</param>
/// <param name="Cluster">The run's cluster as its root sees it (null for a run in one process without a cluster).</param>
public sealed record RunStatus(
    int Pid, DateTime UpdatedUtc, string RunId, RunPhase Phase, long Step, long Steps, double Loss,
    double TokensPerSecond, double DataWaitFraction, string? Error, HealthSnapshot Health, Cluster.ClusterView? Cluster = null)
{
    public const string FileName = "status.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Write(string runDir)
    {
        string path = Path.Combine(runDir, FileName);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Json));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The last status written in <paramref name="runDir"/>, or null when there is none or it cannot be read.</summary>
    public static RunStatus? TryRead(string runDir)
    {
        string path = Path.Combine(runDir, FileName);
        try { return File.Exists(path) ? JsonSerializer.Deserialize<RunStatus>(File.ReadAllText(path), Json) : null; }
        catch (Exception e) when (e is JsonException or IOException) { return null; }
    }
}
