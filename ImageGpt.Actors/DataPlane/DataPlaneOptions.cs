namespace ImageGpt.Actors.DataPlane;

/// <summary>
/// Settings of a node's data-plane server and client, with the reason for each default beside it.
/// <see cref="Validate"/> checks them in one place; the constructors of <see cref="DataPlaneServer"/> and
/// <see cref="DataPlaneClient"/> call it.
/// </summary>
public sealed record DataPlaneOptions
{
    /// <summary>The run's secret (<c>RunSecret.Resolve</c>): both ends prove they know it before any byte of data moves.</summary>
    public required string Secret { get; init; }

    /// <summary>Address the server binds. Loopback unless configured, so a fresh node exposes nothing.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port the server binds; 0 takes any free one (the ticket says which), which is what tests and one-machine runs want.</summary>
    public int Port { get; init; }

    /// <summary>Address written into tickets for peers to connect to; needed when <see cref="Host"/> is a wildcard such as 0.0.0.0.</summary>
    public string? PublicHost { get; init; }

    /// <summary>
    /// Bytes per tensor chunk, each checked with its own CRC. 1 MiB: a chunk is checked while it is still in the L2 cache,
    /// and the per-chunk frame (9 bytes) costs nothing beside it; iGPT-S's 305 MB is 291 chunks.
    /// </summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Longest wait for any progress on a connection (a read, a write, a credit or heartbeat of a batch stream). A dead
    /// or hung peer fails a transfer within this time; a live one moves a chunk far sooner.
    /// </summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for a TCP connection and the handshake: a peer that does not answer fails within it.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection with no request for this long is closed by the server, and dropped by the client's pool before that
    /// (at half of it). Two minutes keeps a connection across steps of any model this machine trains.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Idle connections the client keeps per endpoint: one per concurrent fetch it has made there, up to this.</summary>
    public int MaxIdleConnectionsPerEndpoint { get; init; } = 4;

    /// <summary>Times a batch stream reconnects after a dropped connection before it fails (the count restarts after each batch received).</summary>
    public int ReconnectAttempts { get; init; } = 5;

    /// <summary>First pause before a reconnect; doubled on each further attempt.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Where the server reports connections it refused or lost (one line each); null: nowhere.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The address peers are told to connect to.</summary>
    public string AdvertisedHost => PublicHost ?? Host;

    public const int MinChunkBytes = 64;
    public const int MaxChunkBytes = 64 << 20;

    public void Validate()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the data plane sends tensors in the machine's byte order and assumes little-endian");
        if (string.IsNullOrEmpty(Secret)) throw new ArgumentException("the data plane needs the run's secret. HINT: pass RunSecret.Resolve(config)", nameof(Secret));
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("data-plane host is empty. HINT: 127.0.0.1 for one machine, the node's address otherwise", nameof(Host));
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "data-plane port must be 0..65535 (0: any free port)");
        if (PublicHost is null && Host is "0.0.0.0" or "::")
            throw new ArgumentException($"data-plane host {Host} listens on every address but names none for peers. HINT: set the public host too", nameof(PublicHost));
        if (ChunkBytes is < MinChunkBytes or > MaxChunkBytes || ChunkBytes % MinChunkBytes != 0)
            throw new ArgumentOutOfRangeException(nameof(ChunkBytes), ChunkBytes, $"chunk size must be a multiple of {MinChunkBytes} bytes from {MinChunkBytes} to {MaxChunkBytes}");
        foreach (var (name, t) in new[] { (nameof(IoTimeout), IoTimeout), (nameof(ConnectTimeout), ConnectTimeout), (nameof(IdleTimeout), IdleTimeout), (nameof(ReconnectDelay), ReconnectDelay) })
            if (t <= TimeSpan.Zero || t > TimeSpan.FromDays(1)) throw new ArgumentOutOfRangeException(name, t, "must be positive and at most a day");
        if (MaxIdleConnectionsPerEndpoint < 0) throw new ArgumentOutOfRangeException(nameof(MaxIdleConnectionsPerEndpoint), MaxIdleConnectionsPerEndpoint, "must be 0 or more");
        if (ReconnectAttempts < 0) throw new ArgumentOutOfRangeException(nameof(ReconnectAttempts), ReconnectAttempts, "must be 0 or more");
    }
}
