namespace ImageGpt.Actors.History;

/// <summary>A fenced writer tried to commit after its lease changed hands.</summary>
public sealed class FencedException(string message) : Exception(message);
