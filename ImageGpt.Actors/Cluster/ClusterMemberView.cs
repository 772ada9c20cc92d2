using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// One member: its address, roles, Akka.Cluster status (Joining, Up, Leaving, Exiting, Down, Removed), whether the failure
/// detector reaches it, and the health of its actors as it last answered (<see cref="ClusterHealth"/>; null before then).
/// </summary>
public sealed record ClusterMemberView(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable, HealthSnapshot? Actors = null);
