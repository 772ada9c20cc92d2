namespace ImageGpt.Actors.History;

/// <summary>
/// The fence of a writer: it may commit a payload only while the lease <c>Lease</c> (table run_lease) is at epoch
/// <c>Epoch</c>, the one it was granted. An aggregator that lost its lease to another node is refused inside the commit's
/// transaction, however late its write comes.
/// </summary>
public sealed record Fence(string Lease, long Epoch);
