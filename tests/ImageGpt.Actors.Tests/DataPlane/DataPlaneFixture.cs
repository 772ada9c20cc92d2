using System.Net;
using System.Net.Sockets;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn.Data;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>What the data-plane tests share: options on loopback with test timeouts, tensors with awkward bits, a counting batch source.</summary>
internal static class DataPlaneFixture
{
    public const string Secret = "0123456789abcdef-the-run-secret";

    /// <summary>Loopback, any free port; short pauses so a reconnect test does not wait long, the default I/O timeout otherwise.</summary>
    public static DataPlaneOptions Options(string secret = Secret, int chunkBytes = 1 << 20) => new()
    {
        Secret = secret,
        ChunkBytes = chunkBytes,
        ReconnectDelay = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>Deterministic floats, with NaN payloads, -0, infinities and subnormals sprinkled in: a copy must keep every bit.</summary>
    public static float[] Tensor(int length, int seed = 1)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() * 2 - 1;
        for (int i = 0; i < a.Length; i += 97) a[i] = BitConverter.Int32BitsToSingle(TestRuns.SpecialBits[i / 97 % TestRuns.SpecialBits.Length]);
        return a;
    }

    /// <summary>Bit-for-bit equality (NaN == NaN with the same payload; -0 != +0).</summary>
    public static void BitEqual(ReadOnlySpan<float> want, ReadOnlySpan<float> got)
    {
        Assert.Equal(want.Length, got.Length);
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(want);
        var g = System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(got);
        if (w.SequenceEqual(g)) return;
        int bad = FirstDifference(w, g);
        Assert.Fail($"float {bad} differs: sent {w[bad]:x8}, got {g[bad]:x8}");
    }

    private static int FirstDifference(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return i;
        return -1;
    }

    /// <summary>A raw TCP listener on a free loopback port (a peer that is not a data-plane server), and that port.</summary>
    public static (Socket Listener, int Port) RawListener(bool listen = true)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        if (listen) socket.Listen(1);
        return (socket, ((IPEndPoint)socket.LocalEndPoint!).Port);
    }

    public static void OneLine(Exception e, DataPlaneEndpoint endpoint)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(endpoint.ToString(), e.Message);
    }
}

/// <summary>Batches that are a pure function of (step, shard), so a test knows what each one must hold; counts what it made.</summary>
internal sealed class CountingBatchSource(int shardsPerStep, int samples = 3, int t = 5) : IBatchSource
{
    private int _made;

    public int ShardsPerStep => shardsPerStep;

    public int Made => Volatile.Read(ref _made);

    public ShardBatch Make(long step, int shard)
    {
        Interlocked.Increment(ref _made);
        return Expected(step, shard);
    }

    public ShardBatch Expected(long step, int shard)
    {
        var tokens = new ushort[samples * t];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (ushort)(step * 1009 + shard * 31 + i);
        int[] labels = Enumerable.Range(0, samples).Select(i => (int)(step % 10) + i).ToArray();
        int[] indices = Enumerable.Range(0, samples).Select(i => (int)step * 100 + shard * 10 + i).ToArray();
        return new ShardBatch(new ShardId(step / 7, (int)(step % 7), shard), tokens, labels, indices, t);
    }

    public static void Same(ShardBatch want, ShardBatch got)
    {
        Assert.Equal(want.Id, got.Id);
        Assert.Equal(want.T, got.T);
        Assert.Equal(want.Tokens, got.Tokens);
        Assert.Equal(want.Labels, got.Labels);
        Assert.Equal(want.SampleIndices, got.SampleIndices);
    }
}

/// <summary>Samples that are a pure function of their index (tokens index*13+i, label index mod 10).</summary>
internal sealed class SyntheticSamples(int count, int t) : ISampleSource
{
    public int Count => count;
    public int T => t;

    public int Read(int index, Span<ushort> tokens)
    {
        for (int i = 0; i < tokens.Length; i++) tokens[i] = (ushort)(index * 13 + i);
        return index % 10;
    }
}
