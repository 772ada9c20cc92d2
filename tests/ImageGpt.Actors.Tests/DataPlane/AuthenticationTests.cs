using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using static ImageGpt.Actors.Tests.DataPlane.DataPlaneFixture;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>Only peers that know the run's secret get a tensor or a batch, and a node takes data only from such a peer.</summary>
public sealed class AuthenticationTests
{
    [Fact]
    public async Task A_client_with_another_secret_is_refused_in_one_line_and_gets_no_tensor()
    {
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var server = new DataPlaneServer(Options() with { Log = log.Enqueue });
        await using var stranger = new DataPlaneClient(Options(secret: "another-runs-secret-0123456789"));
        var ticket = server.Offer("params", Tensor(1000));
        float[] got = new float[1000];
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => stranger.FetchAsync(ticket, got).Bounded());
        OneLine(e, server.Endpoint);
        Assert.True(e.Refused);
        Assert.Contains("refused: wrong run secret. HINT:", e.Message);
        Assert.All(got, f => Assert.Equal(0f, f));
        await TestRuns.Eventually(() => !log.IsEmpty, "the data node logs the refusal");
        Assert.Matches($"^data plane at {server.Endpoint} refused 127.0.0.1:[0-9]+: wrong run secret$", Assert.Single(log));
    }

    [Fact]
    public async Task A_peer_that_skips_the_proof_and_asks_at_once_reads_nothing_but_a_challenge_and_an_error()
    {
        await using var server = new DataPlaneServer(Options());
        float[] sent = Tensor(4096);
        server.Offer("params", sent);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Endpoint.Port).Bounded();
        // Hello, a guessed proof, and a fetch, all at once: the server must not act on the fetch.
        byte[] hello = [.. BitConverter.GetBytes(Frames.Magic), .. BitConverter.GetBytes(Frames.Version), .. new byte[32]];
        byte[] id = Encoding.UTF8.GetBytes("params");
        byte[] fetch = [(byte)id.Length, 0, .. id, .. BitConverter.GetBytes(4096L), .. BitConverter.GetBytes(0u)];
        byte[] all = [.. Frame(FrameKind.Hello, hello), .. Frame(FrameKind.Proof, new byte[32]), .. Frame(FrameKind.Fetch, fetch)];
        await socket.SendAsync(all).Bounded();

        var received = new MemoryStream();
        byte[] buffer = new byte[65536];
        while (true)
        {
            int n;
            // The server closes with the unread fetch in its buffer, which TCP answers with a reset after the data.
            try { n = await socket.ReceiveAsync(buffer, SocketFlags.None).Bounded(); }
            catch (SocketException) { break; }
            if (n == 0) break;
            received.Write(buffer, 0, n);
        }
        byte[] bytes = received.ToArray();
        // Challenge (5 + 32 bytes), then Error "wrong run secret" (5 + 16), then the server closed the connection.
        Assert.Equal(5 + 32 + 5 + 16, bytes.Length);
        Assert.Equal((byte)FrameKind.Challenge, bytes[4]);
        Assert.Equal((byte)FrameKind.Error, bytes[5 + 32 + 4]);
        Assert.Equal("wrong run secret", Encoding.UTF8.GetString(bytes, 5 + 32 + 5, 16));
    }

    [Fact]
    public async Task A_client_does_not_take_a_tensor_from_a_server_that_cannot_prove_the_secret()
    {
        // An impostor that accepts any proof and answers with a made-up one, then would serve anything.
        var (listener, port) = RawListener();
        using var owned = listener;
        var requests = 0;
        var impostor = Task.Run(async () =>
        {
            await using var c = new DataPlaneConnection(await listener.AcceptAsync(), "client", TimeSpan.FromSeconds(30));
            await c.ReadFrameAsync();
            new byte[32].CopyTo(c.Payload);
            await c.SendFrameAsync(FrameKind.Challenge, 32);
            await c.ReadFrameAsync();
            new byte[32].CopyTo(c.Payload);
            await c.SendFrameAsync(FrameKind.Welcome, 32);
            try
            {
                await c.ReadFrameAsync();
                requests++;
            }
            catch (IOException)
            {
                // The client hung up without asking: what it must do.
            }
        });
        await using var client = new DataPlaneClient(Options());
        var ticket = new TensorTicket("127.0.0.1", port, "params", 10, 0);
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[10]).Bounded());
        OneLine(e, ticket.Endpoint);
        Assert.Contains("could not prove it knows the run's secret", e.Message);
        await impostor.Bounded();
        Assert.Equal(0, requests);
    }

    [Fact]
    public async Task A_trainer_node_with_another_secret_gets_no_batch()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 2);
        server.ServeBatches(source);
        await using var stranger = new DataPlaneClient(Options(secret: "another-runs-secret-0123456789"));
        await using var sub = stranger.Subscribe(server.Endpoint, new BatchStreamRequest(2, [0, 1], 0, 10, 2));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => sub.Reader.ReadAsync().AsTask().Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("wrong run secret", e.Message);
        Assert.Equal(0, source.Made);
    }

    private static byte[] Frame(FrameKind kind, byte[] payload)
    {
        byte[] f = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(f, (uint)payload.Length);
        f[4] = (byte)kind;
        payload.CopyTo(f, 5);
        return f;
    }
}
