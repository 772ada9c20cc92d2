using Akka.Cluster;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// A run's cluster as one member sees it: every member with the health of its actors, the leader, the member the run's
/// root (aggregator singleton) runs on, and the run's trainers in shard order (named "host:port/trainer-i" by node; only
/// the root knows them). The root writes it into status.json each second; a dashboard builds it for every request.
/// </summary>
public sealed record ClusterView(string Root, string? Leader, IReadOnlyList<ClusterMemberView> Members, IReadOnlyList<string> Trainers)
{
    /// <summary>What the root's member knows now.</summary>
    public static ClusterView Of(Akka.Actor.ActorSystem system, IReadOnlyList<string> trainers) =>
        Build(system, Akka.Cluster.Cluster.Get(system).SelfAddress.ToString(), trainers);

    /// <summary>
    /// What any member knows now, the root placed where the singleton manager places it (the oldest member with the
    /// aggregator role that is Up); null while this member is not in the cluster.
    /// </summary>
    public static ClusterView? Seen(Akka.Actor.ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        if (!state.Members.Any(m => m.UniqueAddress == cluster.SelfUniqueAddress)) return null;
        var root = state.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole(ClusterRun.AggregatorRole)).OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        return Build(system, root?.Address.ToString() ?? "none", []);
    }

    private static ClusterView Build(Akka.Actor.ActorSystem system, string root, IReadOnlyList<string> trainers)
    {
        var state = Akka.Cluster.Cluster.Get(system).State;
        var health = ClusterHealth.Get(system);
        var members = state.Members
            .Select(m => new ClusterMemberView(m.Address.ToString(), m.Roles.Order(StringComparer.Ordinal).ToList(), m.Status.ToString(), !state.Unreachable.Contains(m),
                health.Of(m.Address.ToString())))
            .ToList();
        return new ClusterView(root, state.Leader?.ToString(), members, trainers);
    }
}
