namespace ImageGpt.Actors.Cluster;

/// <summary>
/// A run's cluster as its root sees it, written into status.json each second: every member, the leader, the member the
/// root (aggregator singleton) runs on, and the run's trainers in shard order (named "host:port/trainer-i" by node).
/// </summary>
public sealed record ClusterView(string Root, string? Leader, IReadOnlyList<ClusterMemberView> Members, IReadOnlyList<string> Trainers)
{
    /// <summary>What the root's member knows now.</summary>
    public static ClusterView Of(Akka.Actor.ActorSystem system, IReadOnlyList<string> trainers)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var members = state.Members
            .Select(m => new ClusterMemberView(m.Address.ToString(), m.Roles.Order(StringComparer.Ordinal).ToList(), m.Status.ToString(), !state.Unreachable.Contains(m)))
            .ToList();
        return new ClusterView(cluster.SelfAddress.ToString(), state.Leader?.ToString(), members, trainers);
    }
}
