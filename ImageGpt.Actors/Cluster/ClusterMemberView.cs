namespace ImageGpt.Actors.Cluster;

/// <summary>One member: its address, roles, Akka.Cluster status (Joining, Up, Leaving, Exiting, Down, Removed) and whether the failure detector reaches it.</summary>
public sealed record ClusterMemberView(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable);
