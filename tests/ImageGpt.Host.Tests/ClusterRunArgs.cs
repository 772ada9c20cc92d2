namespace ImageGpt.Host.Tests;

/// <summary>
/// The run the cluster tests start: small enough for seconds, big enough that a step outlasts a test's reaction to a
/// step line; with the failure detector, the split-brain resolver and the aggregator's lease shortened (test settings
/// only: reference.conf explains the defaults) so that failures are found, decided and taken over in seconds.
/// </summary>
internal static class ClusterRunArgs
{
    public const int Steps = 60;
    public const double StepDeadline = 5, DetectorPause = 3, StableAfter = 2;

    public static readonly string[] Run =
    [
        "--config", Path.Combine(TrainCommandTests.Repo(), "hocon", "fashion-mnist.conf"),
        "--set", "model.layers=2", "--set", "model.width=64", "--set", "model.heads=4",
        "--set", "data.limit=512", "--set", "train.batch=16", "--set", "train.shards=2", "--set", $"train.steps={Steps}",
        "--set", "train.warmup=5", "--set", "checkpoint.every=5", "--set", "checkpoint.keep=3", "--set", "eval.enabled=false",
        "--set", "log.every=1", "--set", "runtime.trainers=1", "--set", $"runtime.step-deadline={StepDeadline}s",
        "--set", "cluster.lease-ttl=3s", "--set", $"akka.cluster.failure-detector.acceptable-heartbeat-pause={DetectorPause}s",
        "--set", $"akka.cluster.split-brain-resolver.stable-after={StableAfter}s", "--set", "akka.cluster.singleton.lease-retry-interval=1s",
    ];

    /// <summary>The --set values of <paramref name="args"/>.</summary>
    public static string[] Sets(string[] args) => args.Chunk(2).Where(p => p[0] == "--set").Select(p => p[1]).ToArray();
}
