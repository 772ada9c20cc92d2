using System.Security.Cryptography;
using System.Text;
using Akka.Actor;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// The run's root admits a node's trainers only once the node has proved it knows the run's secret, and the node
/// registers them only once the root has proved it too (the data plane's challenge-response, over Akka messages):
/// <code>
/// node → root  AdmissionHello(node nonce)
/// root → node  AdmissionChallenge(root nonce)
/// node → root  AdmissionProof(HMAC-SHA256(secret, "imagegpt-admission/node" ‖ root nonce ‖ node nonce))
/// root → node  AdmissionGranted(HMAC-SHA256(secret, "imagegpt-admission/root" ‖ node nonce ‖ root nonce))
///              or AdmissionRefused(why), and the root downs the node: it leaves the cluster
/// </code>
/// Fresh nonces on both sides make each proof good once; the secret never travels. The root keeps the admitted
/// addresses and ignores the run's control messages from any other member.
/// </summary>
public sealed class AdmissionGate(string secret)
{
    private const int NonceBytes = 32;
    private static readonly byte[] NodeLabel = Encoding.ASCII.GetBytes("imagegpt-admission/node");
    private static readonly byte[] RootLabel = Encoding.ASCII.GetBytes("imagegpt-admission/root");

    private readonly byte[] _key = DataPlane.Handshake.Key(secret);
    /// <summary>Open challenges per member at most: a node says hello at most twice at a time (to the proxy, and to a new root directly).</summary>
    private const int OpenPerMember = 4;

    /// <summary>Open challenges by the node's nonce, numbered in the order they were opened.</summary>
    private readonly Dictionary<string, (Address Member, byte[] Root, long Order)> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<Address> _admitted = [];
    private long _opened;

    /// <summary>Whether <paramref name="member"/> may take part (this process always may).</summary>
    public bool Admitted(Address member) => member.HasLocalScope || _admitted.Contains(member);

    public AdmissionChallenge Hello(Address member, AdmissionHello m)
    {
        byte[] root = RandomNumberGenerator.GetBytes(NonceBytes);
        _pending[Convert.ToHexString(m.NodeNonce)] = (member, root, ++_opened);
        // A member that keeps saying hello without proving anything cannot grow the table.
        var open = _pending.Where(p => p.Value.Member == member).OrderBy(p => p.Value.Order).Select(p => p.Key).ToList();
        foreach (string stale in open.Take(open.Count - OpenPerMember)) _pending.Remove(stale);
        return new AdmissionChallenge(m.NodeNonce, root);
    }

    /// <summary>
    /// Granted (and remembered) when the proof answers the challenge of this member's hello, refused when it does not;
    /// null when no such challenge is open (nothing to answer).
    /// </summary>
    public object? Proof(Address member, AdmissionProof m)
    {
        string id = Convert.ToHexString(m.NodeNonce);
        if (!_pending.TryGetValue(id, out var open) || open.Member != member) return null;
        _pending.Remove(id);
        if (!CryptographicOperations.FixedTimeEquals(m.Mac, NodeProof(_key, open.Root, m.NodeNonce)))
            return new AdmissionRefused(m.NodeNonce, "wrong run secret");
        _admitted.Add(member);
        return new AdmissionGranted(m.NodeNonce, RootProof(_key, m.NodeNonce, open.Root));
    }

    /// <summary>The node's side: a fresh nonce for its hello.</summary>
    public static byte[] Nonce() => RandomNumberGenerator.GetBytes(NonceBytes);

    public static byte[] NodeProof(byte[] key, byte[] rootNonce, byte[] nodeNonce) => DataPlane.Handshake.Mac(key, NodeLabel, rootNonce, nodeNonce);

    public static byte[] RootProof(byte[] key, byte[] nodeNonce, byte[] rootNonce) => DataPlane.Handshake.Mac(key, RootLabel, nodeNonce, rootNonce);

    /// <summary>The node's check of the root's answer.</summary>
    public static bool RootProved(byte[] key, byte[] nodeNonce, byte[] rootNonce, AdmissionGranted m) =>
        CryptographicOperations.FixedTimeEquals(m.Mac, RootProof(key, nodeNonce, rootNonce));
}
