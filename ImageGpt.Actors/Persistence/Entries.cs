namespace ImageGpt.Actors.Persistence;

/// <summary>
/// One event in the journal: the row <c>journal(ordering, persistence_id, sequence_nr, manifest, payload, created, tags)</c>.
/// The caller fills the first five; <see cref="Ordering"/> and <see cref="Created"/> are assigned by the
/// journal when it writes and are filled in on replay.
/// </summary>
/// <param name="Manifest">names the serializer that reads <paramref name="Payload"/> back (see <see cref="SerializerRegistry"/>)</param>
/// <param name="Tags">free text kept beside the event (Akka stores comma-separated tags here)</param>
public sealed record JournalEntry(string PersistenceId, long SequenceNr, string Manifest, byte[] Payload, string? Tags = null)
{
    /// <summary>Global write order across all persistence ids (the identity column).</summary>
    public long Ordering { get; init; }

    /// <summary>Write time, milliseconds since the Unix epoch.</summary>
    public long Created { get; init; }
}

/// <summary>One snapshot: the row <c>snapshot(persistence_id, sequence_nr, created, manifest, payload)</c>.</summary>
/// <param name="SequenceNr">the sequence number of the last event the snapshot includes</param>
/// <param name="Created">milliseconds since the Unix epoch; 0 lets the store stamp the save time</param>
public sealed record SnapshotEntry(string PersistenceId, long SequenceNr, string Manifest, byte[] Payload, long Created = 0);

/// <summary>
/// Which snapshots a load or delete selects, as Akka's <c>SnapshotSelectionCriteria</c>: both bounds inclusive,
/// timestamps in milliseconds since the Unix epoch.
/// </summary>
public sealed record SnapshotCriteria(
    long MaxSequenceNr = long.MaxValue,
    long MaxTimestamp = long.MaxValue,
    long MinSequenceNr = 0,
    long MinTimestamp = 0)
{
    /// <summary>Every snapshot; a load picks the one with the highest sequence number.</summary>
    public static SnapshotCriteria Latest { get; } = new();

    /// <summary>No snapshot (recovery then replays every event).</summary>
    public static SnapshotCriteria None { get; } = new(MaxSequenceNr: 0, MaxTimestamp: 0, MinSequenceNr: 1, MinTimestamp: 1);
}
