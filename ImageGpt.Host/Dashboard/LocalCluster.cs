using ImageGpt.Actors.Health;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// /api/cluster before the run has a cluster: this node alone, every role, Up while its process runs, leader of itself and
/// holder of the aggregator singleton. A cluster-aware source returns one <see cref="ClusterMember"/> per Akka.Cluster member
/// instead (address, roles, MemberStatus, reachability from the failure detector, leader, singletons held) with each node's
/// <see cref="HealthSnapshot"/>; the page draws whatever members it gets.
/// </summary>
public static class LocalCluster
{
    public static readonly IReadOnlyList<string> AllRoles = ["aggregator", "trainer", "data"];

    public static ClusterState Of(string address, bool up, HealthSnapshot? actors) =>
        new(address, up ? address : null,
            [new ClusterMember(address, AllRoles, up ? "Up" : "Removed", up, up, up ? ["aggregator"] : [], actors)]);
}
