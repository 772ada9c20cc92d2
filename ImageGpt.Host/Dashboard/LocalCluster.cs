using ImageGpt.Actors.Health;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// /api/cluster without a cluster: this node alone, every role, in <paramref name="status"/> (Up while a run in one process
/// runs; Joining while a cluster member has not joined yet), leader of itself and holder of the aggregator singleton once
/// Up. A cluster-aware source returns one <see cref="ClusterMember"/> per Akka.Cluster member instead (<see cref="RunCluster"/>).
/// </summary>
public static class LocalCluster
{
    public static readonly IReadOnlyList<string> AllRoles = ["aggregator", "trainer", "data"];

    public static ClusterState Of(string address, string status, HealthSnapshot? actors)
    {
        bool up = status == "Up";
        return new(address, up ? address : null,
            [new ClusterMember(address, AllRoles, status, status != "Removed", up, up ? ["aggregator"] : [], actors)]);
    }
}
