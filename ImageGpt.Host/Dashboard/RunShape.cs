using System.Text.Json;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn.Model;

namespace ImageGpt.Host.Dashboard;

/// <summary>What turns tokens/s into an ETA and an MFU: tokens per step, model FLOPs per token, cores the trainers hold.</summary>
public sealed record RunShape(long TokensPerStep, double FlopsPerToken, int Cores)
{
    public static RunShape Of(RunConfig c) =>
        new((long)c.Train.Batch * c.Model.Seq, c.Model.TrainingFlopsPerToken, Math.Min(c.Runtime.Trainers, c.Train.Shards) * c.Runtime.ThreadsPerTrainer);

    /// <summary>From the identity a run journaled at its start (RunStarted) and the number of trainers seen; null when it cannot be read.</summary>
    public static RunShape? FromIdentity(string identityJson, int trainers)
    {
        try
        {
            using var doc = JsonDocument.Parse(identityJson);
            JsonElement m = doc.RootElement.GetProperty("model");
            var model = new GptConfig(m.GetProperty("layers").GetInt32(), m.GetProperty("width").GetInt32(), m.GetProperty("heads").GetInt32(),
                m.GetProperty("vocab").GetInt32(), m.GetProperty("side").GetInt32(), m.GetProperty("classes").GetInt32(),
                m.GetProperty("objective").GetString() == "bert" ? Objective.Bert : Objective.Autoregressive, m.GetProperty("seed").GetUInt64());
            int batch = doc.RootElement.GetProperty("train").GetProperty("batch").GetInt32();
            return new RunShape((long)batch * model.Seq, model.TrainingFlopsPerToken, trainers);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
