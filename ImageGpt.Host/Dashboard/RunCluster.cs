using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Health;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// /api/cluster from a <see cref="ClusterView"/> (the live one of this process, or the one the run's root last wrote into
/// status.json): every member with its Akka.Cluster status and reachability, the leader, the member holding the run's root
/// (the aggregator singleton), and each member's actors as it last reported them.
/// </summary>
public static class RunCluster
{
    /// <param name="self">The member this dashboard describes as itself.</param>
    /// <param name="selfActors">This member's actors when they are known better here (status.json of a run without member health); else the view's.</param>
    public static ClusterState Of(ClusterView c, string self, HealthSnapshot? selfActors = null) =>
        new(self, c.Leader, c.Members.Select(m => new ClusterMember(m.Address, m.Roles, m.Status, m.Reachable, m.Address == c.Leader,
            m.Address == c.Root ? ["aggregator"] : [], m.Actors ?? (m.Address == self ? selfActors : null))).ToList());
}
