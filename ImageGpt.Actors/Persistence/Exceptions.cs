namespace ImageGpt.Actors.Persistence;

/// <summary>
/// A write lost a race: another writer already stored an event of <see cref="PersistenceId"/> at one of the
/// sequence numbers <see cref="FromSequenceNr"/>..<see cref="ToSequenceNr"/>. Nothing of the losing batch was
/// written. Usually two live actors share a persistence id, which Akka forbids.
/// </summary>
public sealed class ConcurrentWriteException(string persistenceId, long fromSequenceNr, long toSequenceNr, Exception inner)
    : Exception(
        $"concurrent write to persistence id '{persistenceId}' at sequence number {fromSequenceNr}"
        + (toSequenceNr != fromSequenceNr ? $"..{toSequenceNr}" : "")
        + ": another writer stored that sequence number first; nothing of this batch was written. "
        + "HINT: only one live actor may own a persistence id; recover it again to learn the current sequence number",
        inner)
{
    public string PersistenceId { get; } = persistenceId;
    public long FromSequenceNr { get; } = fromSequenceNr;
    public long ToSequenceNr { get; } = toSequenceNr;
}

/// <summary>
/// The store's circuit breaker is open: recent calls failed or timed out, so this one was refused without
/// touching the database. Retry after <see cref="RemainingUntilHalfOpen"/>.
/// </summary>
public sealed class CircuitBreakerOpenException(string name, TimeSpan remainingUntilHalfOpen)
    : Exception(
        $"circuit breaker '{name}' is open after repeated failures; calls fail fast for another "
        + $"{remainingUntilHalfOpen.TotalMilliseconds:F0} ms. HINT: check that the database is reachable")
{
    public TimeSpan RemainingUntilHalfOpen { get; } = remainingUntilHalfOpen;
}

/// <summary>A payload could not be serialized or read back (unknown manifest, wrong type, bad bytes).</summary>
public sealed class SerializationException(string message, Exception? inner = null) : Exception(message, inner);
