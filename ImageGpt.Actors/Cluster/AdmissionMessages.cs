namespace ImageGpt.Actors.Cluster;

// The admission of a node by the run's root (AdmissionGate): small messages, safe to cross machines. The root's answers
// echo the node's nonce, so that a node that started over (a new root asked it to) ignores answers to an earlier hello.

/// <summary>Node → root: a node wants to contribute its trainers.</summary>
public sealed record AdmissionHello(byte[] NodeNonce);

/// <summary>Root → node: prove you know the run's secret.</summary>
public sealed record AdmissionChallenge(byte[] NodeNonce, byte[] RootNonce);

/// <summary>Node → root: the proof.</summary>
public sealed record AdmissionProof(byte[] NodeNonce, byte[] Mac);

/// <summary>Root → node: admitted, and the root's own proof.</summary>
public sealed record AdmissionGranted(byte[] NodeNonce, byte[] Mac);

/// <summary>Root → node: refused; the node leaves the run.</summary>
public sealed record AdmissionRefused(byte[] NodeNonce, string Reason);
