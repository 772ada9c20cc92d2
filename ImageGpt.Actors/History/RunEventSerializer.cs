using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace ImageGpt.Actors.History;

/// <summary>
/// Akka serializer of the run's events and of the history snapshot: JSON (readable with any SQL client, stable
/// across .NET versions) under a short manifest per type, so a renamed class never breaks an old journal.
/// Bound in the config that <see cref="Configuration.AkkaSettings"/> builds.
/// </summary>
public sealed class RunEventSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Akka reserves 0..40; the value only has to be unique within the system and stable across versions.</summary>
    public const int Id = 7305;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(RunStarted)] = "run-started",
        [typeof(RunResumed)] = "run-resumed",
        [typeof(CheckpointCommitted)] = "checkpoint-committed",
        [typeof(CheckpointsPruned)] = "checkpoints-pruned",
        [typeof(EvaluationRecorded)] = "evaluation-recorded",
        [typeof(RunStopped)] = "run-stopped",
        [typeof(RunFinished)] = "run-finished",
        [typeof(RunFailed)] = "run-failed",
        [typeof(RunHistorySnapshot)] = "history-snapshot",
        [typeof(Sweep.SweepStarted)] = "sweep-started",
        [typeof(Sweep.SweepValueFinished)] = "sweep-value-finished",
        [typeof(Sweep.SweepChosen)] = "sweep-chosen",
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(p => p.Value, p => p.Key);

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out string? m) ? m : throw new ArgumentException($"{o.GetType()} is not a run event", nameof(o));

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out Type? type))
            throw new SerializationException($"unknown run event manifest '{manifest}' (written by a newer imagegpt?)");
        return JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"run event '{manifest}' is JSON null");
    }
}
