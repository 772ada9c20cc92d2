namespace ImageGpt.Actors.Cluster;

/// <summary>How a process joins a run's cluster.</summary>
/// <param name="SystemName">The actor system's name (<see cref="Configuration.AkkaSettings.SystemName"/>).</param>
/// <param name="Seeds">Addresses of members to join (akka.tcp://system@host:port); empty: akka.cluster.seed-nodes, else the node founds the cluster.</param>
/// <param name="LeaseTtl">How long the aggregator's (and the split-brain resolver's) lease lasts without renewal.</param>
public sealed record ClusterOptions(string SystemName, IReadOnlyList<string> Seeds, TimeSpan LeaseTtl);
