namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// The claim check for one offered tensor: what an Akka message carries instead of the floats. A holder fetches the
/// tensor with <see cref="DataPlaneClient.FetchAsync"/> from <c>Host:Port</c> into an array of its own.
/// </summary>
/// <param name="Id">the offer's name on that server, e.g. <c>params/step-12</c></param>
/// <param name="Length">number of floats</param>
/// <param name="Checksum">CRC-32C of the tensor's bytes (little-endian floats), taken when it was offered</param>
public sealed record TensorTicket(string Host, int Port, string Id, long Length, long Checksum)
{
    public DataPlaneEndpoint Endpoint => new(Host, Port);
}
