namespace ImageGpt.Actors.DataPlane;

/// <summary>Where a node's data-plane server listens: small and serializable, so it can ride in an Akka message.</summary>
public sealed record DataPlaneEndpoint(string Host, int Port)
{
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
