namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// A transfer failed: the message is one line that names the peer's endpoint and what went wrong. <see cref="Refused"/>
/// is true when the peer answered and said no (wrong secret, unknown offer, a request it cannot serve): retrying the
/// same request cannot help. Otherwise the connection failed (closed, timed out, corrupted data) and a retry may succeed.
/// </summary>
public sealed class DataPlaneException(string message, bool refused = false, Exception? inner = null) : Exception(message, inner)
{
    public bool Refused { get; } = refused;
}
