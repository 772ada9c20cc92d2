using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Health;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// /api/cluster from the cluster the run's root last wrote into status.json (<see cref="ClusterView"/>): every member
/// with its Akka.Cluster status and reachability, the leader, the member holding the run's root (the aggregator
/// singleton), and the actors of the one node whose health is known here.
/// </summary>
public static class RunCluster
{
    /// <param name="self">The member this dashboard describes as itself.</param>
    /// <param name="actorsOf">The member whose actors <paramref name="actors"/> are.</param>
    public static ClusterState Of(ClusterView c, string self, string actorsOf, HealthSnapshot? actors) =>
        new(self, c.Leader, c.Members.Select(m => new ClusterMember(m.Address, m.Roles, m.Status, m.Reachable, m.Address == c.Leader,
            m.Address == c.Root ? ["aggregator"] : [], m.Address == actorsOf ? actors : null)).ToList());
}
