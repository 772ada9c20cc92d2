using System.Security.Cryptography;
using System.Text;

namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// Mutual challenge-response with the run's secret, before any request:
/// <code>
/// client → Hello     magic "IGDP", version, client nonce (32 random bytes)
/// server → Challenge server nonce (32)
/// client → Proof     HMAC-SHA256(secret, "imagegpt-data-plane/client" ‖ server nonce ‖ client nonce)
/// server → Welcome   HMAC-SHA256(secret, "imagegpt-data-plane/server" ‖ client nonce ‖ server nonce)
///          or Error  "wrong run secret", and the server closes
/// </code>
/// The client proves itself first, so a server never hands an unknown peer anything computed from the secret; then the
/// server proves itself, so a node never takes tensors from an impostor. Fresh nonces on both sides make every proof
/// good for one connection only, and the labels keep a client's proof from passing as a server's. The secret itself
/// never crosses the wire. This authenticates the peers; it does not encrypt: the bytes that follow are readable by
/// anyone who can watch the network (see the data plane's README section).
/// </summary>
internal static class Handshake
{
    private const int NonceBytes = 32;
    private static readonly byte[] ClientLabel = Encoding.ASCII.GetBytes("imagegpt-data-plane/client");
    private static readonly byte[] ServerLabel = Encoding.ASCII.GetBytes("imagegpt-data-plane/server");

    public static byte[] Key(string secret) => Encoding.UTF8.GetBytes(secret);

    /// <summary>Proves this end knows the secret and checks that the server does; throws <see cref="DataPlaneException"/> (refused) otherwise.</summary>
    public static async Task ClientAsync(DataPlaneConnection c, byte[] key)
    {
        byte[] clientNonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var w = new PayloadWriter(c.Payload);
        w.UInt32(Frames.Magic);
        w.UInt16(Frames.Version);
        w.Bytes(clientNonce);
        await c.SendFrameAsync(FrameKind.Hello, w.Length).ConfigureAwait(false);

        var (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
        byte[] serverNonce = Expect(c, kind, FrameKind.Challenge, payload).Bytes(NonceBytes).ToArray();
        w = new PayloadWriter(c.Payload);
        w.Bytes(Mac(key, ClientLabel, serverNonce, clientNonce));
        await c.SendFrameAsync(FrameKind.Proof, w.Length).ConfigureAwait(false);

        (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
        var serverProof = Expect(c, kind, FrameKind.Welcome, payload).Bytes(32);
        if (!CryptographicOperations.FixedTimeEquals(serverProof, Mac(key, ServerLabel, clientNonce, serverNonce)))
            throw new DataPlaneException($"data plane at {c.Peer} accepted us but could not prove it knows the run's secret: not one of this run's nodes. HINT: check the endpoint and that every node has the same run.secret", refused: true);
    }

    /// <summary>Checks the client's proof and proves itself; null then, else why the client was refused (it got an error frame).</summary>
    public static async Task<string?> ServerAsync(DataPlaneConnection c, byte[] key)
    {
        var (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
        if (kind != FrameKind.Hello || payload.Length != 4 + 2 + NonceBytes || !ReadHello(payload.Span, out ushort version, out byte[] clientNonce))
            return await RefuseAsync(c, "not an ImageGpt data-plane client").ConfigureAwait(false);
        if (version != Frames.Version)
            return await RefuseAsync(c, $"data-plane protocol version {version} is not served here (this node speaks {Frames.Version}). HINT: run the same imagegpt on every node").ConfigureAwait(false);
        byte[] serverNonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var w = new PayloadWriter(c.Payload);
        w.Bytes(serverNonce);
        await c.SendFrameAsync(FrameKind.Challenge, w.Length).ConfigureAwait(false);

        (kind, payload) = await c.ReadFrameAsync().ConfigureAwait(false);
        if (kind != FrameKind.Proof || payload.Length != 32
            || !CryptographicOperations.FixedTimeEquals(payload.Span, Mac(key, ClientLabel, serverNonce, clientNonce)))
            return await RefuseAsync(c, "wrong run secret").ConfigureAwait(false);
        w = new PayloadWriter(c.Payload);
        w.Bytes(Mac(key, ServerLabel, clientNonce, serverNonce));
        await c.SendFrameAsync(FrameKind.Welcome, w.Length).ConfigureAwait(false);
        return null;
    }

    private static async Task<string> RefuseAsync(DataPlaneConnection c, string reason)
    {
        await c.SendErrorAsync(reason).ConfigureAwait(false);
        return reason;
    }

    private static bool ReadHello(ReadOnlySpan<byte> payload, out ushort version, out byte[] nonce)
    {
        var r = new PayloadReader(payload);
        bool ours = r.UInt32() == Frames.Magic;
        version = r.UInt16();
        nonce = r.Bytes(NonceBytes).ToArray();
        return ours;
    }

    internal static byte[] Mac(byte[] key, byte[] label, byte[] first, byte[] second)
    {
        byte[] message = [.. label, .. first, .. second];
        return HMACSHA256.HashData(key, message);
    }

    /// <summary>A reader over the payload of the frame the conversation needs next; an error frame from the server becomes a refusal.</summary>
    private static PayloadReader Expect(DataPlaneConnection c, FrameKind got, FrameKind want, ReadOnlyMemory<byte> payload)
    {
        if (got == FrameKind.Error) throw Refusal(c, payload.Span);
        if (got != want) throw new ConnectionLostException($"expected a {want} frame, got {got}: the peer does not speak this protocol");
        return new PayloadReader(payload.Span);
    }

    /// <summary>The server's error frame as the one-line exception the caller sees.</summary>
    public static DataPlaneException Refusal(DataPlaneConnection c, ReadOnlySpan<byte> errorPayload)
    {
        string reason = Encoding.UTF8.GetString(errorPayload);
        string hint = reason == "wrong run secret" ? ". HINT: every node of a run needs the same run.secret (or IGPT_SECRET)" : "";
        return new DataPlaneException($"data plane at {c.Peer} refused: {reason}{hint}", refused: true);
    }
}
