using System.Runtime.InteropServices;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn;
using static ImageGpt.Actors.Tests.DataPlane.DataPlaneFixture;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>
/// Tensors offered on one node's server and fetched by another's client, on loopback. Alone: a 300 MB tensor and its
/// copy would count in the working set the store's 2 GiB payload test measures.
/// </summary>
[Collection(AllocationCountingCollection.Name)]
public sealed class TensorTransferTests
{
    /// <summary>64-byte chunks hold 16 floats: these lengths sit on both sides of chunk boundaries.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(80)]
    [InlineData(83)]
    public async Task Tensors_of_awkward_lengths_arrive_bit_for_bit_across_chunk_boundaries(int floats)
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 64));
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(floats, seed: floats);
        var ticket = server.Offer("t", sent);
        float[] got = new float[floats];
        await client.FetchAsync(ticket, got).Bounded();
        BitEqual(sent, got);
    }

    [Fact]
    public async Task The_ticket_is_small_and_carries_the_length_and_the_crc_of_the_bytes()
    {
        await using var server = new DataPlaneServer(Options());
        float[] sent = Tensor(1000);
        var ticket = server.Offer("params/step-12", sent);
        Assert.Equal(new TensorTicket("127.0.0.1", server.Endpoint.Port, "params/step-12", 1000, Crc32C.AppendNaive(0, MemoryMarshal.AsBytes(sent.AsSpan()))), ticket);
        Assert.NotEqual(0, server.Endpoint.Port);
    }

    [Fact]
    public async Task A_1_6_MB_tensor_arrives_with_the_default_chunk_and_the_next_fetch_reuses_the_connection()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(400_000);
        var ticket = server.Offer("grad", sent);
        float[] got = new float[sent.Length];
        await client.FetchAsync(ticket, got).Bounded();
        BitEqual(sent, got);
        Array.Clear(got);
        await client.FetchAsync(ticket, got).Bounded();
        BitEqual(sent, got);
        Assert.Equal(1, server.LiveConnections);
    }

    [Fact]
    public async Task After_the_server_restarts_on_its_port_the_next_fetch_opens_fresh_connections()
    {
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(1000);
        var first = new DataPlaneServer(Options());
        int port = first.Endpoint.Port;
        float[] got = new float[1000];
        await Task.WhenAll(client.FetchAsync(first.Offer("a", sent), got), client.FetchAsync(first.Offer("b", sent), new float[1000])).Bounded();
        await first.DisposeAsync();

        await using var second = new DataPlaneServer(Options() with { Port = port });
        Array.Clear(got);
        await client.FetchAsync(second.Offer("a", sent), got).Bounded();
        BitEqual(sent, got);
    }

    [Fact]
    public async Task A_300_MB_tensor_arrives_bit_for_bit()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(75_000_000);
        var ticket = server.Offer("params", sent);
        float[] got = new float[sent.Length];
        await client.FetchAsync(ticket, got).Bounded();
        BitEqual(sent, got);
    }

    [Fact]
    public async Task Many_fetches_of_one_offer_at_once_all_get_it()
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 4096));
        await using var one = new DataPlaneClient(Options());
        await using var two = new DataPlaneClient(Options());
        float[] sent = Tensor(100_003);
        var ticket = server.Offer("params", sent);
        float[][] got = Enumerable.Range(0, 8).Select(_ => new float[sent.Length]).ToArray();
        await Task.WhenAll(got.Select((g, i) => (i % 2 == 0 ? one : two).FetchAsync(ticket, g))).Bounded();
        foreach (float[] g in got) BitEqual(sent, g);
    }

    [Fact]
    public async Task A_destination_of_the_wrong_length_is_refused_before_anything_is_sent()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        var ticket = server.Offer("t", Tensor(10));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.FetchAsync(ticket, new float[9]));
        Assert.Contains("9 floats", e.Message);
        Assert.Equal(0, server.LiveConnections);
    }

    [Fact]
    public async Task An_unknown_or_withdrawn_offer_is_refused_in_one_line_and_the_connection_serves_the_next_fetch()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(100);
        var ticket = server.Offer("a", sent);
        await server.WithdrawAsync("a").Bounded();
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[100]).Bounded());
        OneLine(e, server.Endpoint);
        Assert.True(e.Refused);
        Assert.Contains("no tensor 'a' is offered here", e.Message);

        var again = server.Offer("b", sent);
        float[] got = new float[100];
        await client.FetchAsync(again, got).Bounded();
        BitEqual(sent, got);
        Assert.Equal(1, server.LiveConnections);
    }

    [Fact]
    public async Task A_ticket_for_an_earlier_offer_under_the_same_id_is_refused_as_stale()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        var old = server.Offer("params", Tensor(100, seed: 1));
        await server.WithdrawAsync("params").Bounded();
        server.Offer("params", Tensor(100, seed: 2));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(old, new float[100]).Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("stale ticket", e.Message);
    }

    [Fact]
    public async Task Offering_an_id_twice_is_refused()
    {
        await using var server = new DataPlaneServer(Options());
        server.Offer("params", Tensor(4));
        Assert.Throws<InvalidOperationException>(() => server.Offer("params", Tensor(4)));
    }

    [Fact]
    public async Task Withdrawing_during_a_transfer_stops_it_at_the_next_chunk_and_then_returns_the_memory()
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 64));
        await using var client = new DataPlaneClient(Options());
        Task? withdrawn = null;
        server.Hooks.BeforeChunk = chunk =>
        {
            if (chunk == 3) withdrawn = server.WithdrawAsync("params");
            return Task.CompletedTask;
        };
        var ticket = server.Offer("params", Tensor(1000));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[1000]).Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("withdrawn during the transfer", e.Message);
        Assert.NotNull(withdrawn);
        await withdrawn.Bounded();
    }

    [Fact]
    public async Task A_corrupted_chunk_is_detected_and_named_and_the_next_fetch_succeeds()
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 1024));
        await using var client = new DataPlaneClient(Options());
        float[] sent = Tensor(5000);
        var ticket = server.Offer("grad", sent);
        server.Hooks.Corrupt = (chunk, bytes) => { if (chunk == 2) bytes[100] ^= 0x10; };
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[sent.Length]).Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("chunk 2 (bytes 2048..3072) fails its CRC-32C", e.Message);
        Assert.False(e.Refused);

        server.Hooks.Corrupt = null;
        float[] got = new float[sent.Length];
        await client.FetchAsync(ticket, got).Bounded();
        BitEqual(sent, got);
    }

    [Fact]
    public async Task A_server_that_dies_mid_transfer_fails_the_fetch_with_one_line()
    {
        var server = new DataPlaneServer(Options(chunkBytes: 4096));
        await using var client = new DataPlaneClient(Options());
        Task? dying = null;
        server.Hooks.BeforeChunk = chunk =>
        {
            // Chunks 0..4 went out; the rest never will.
            if (chunk == 5) dying = server.DisposeAsync().AsTask();
            return Task.CompletedTask;
        };
        var ticket = server.Offer("params", Tensor(100_000));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[100_000]).Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("fetching tensor 'params' (0.4 MB) from", e.Message);
        Assert.Matches("failed after 0.0[0-9]+ MB: the connection (was closed by the peer|broke)", e.Message);
        Assert.NotNull(dying);
        await dying.Bounded();
    }

    [Fact]
    public async Task A_server_that_hangs_mid_transfer_fails_the_fetch_after_the_io_timeout()
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 4096));
        await using var client = new DataPlaneClient(Options() with { IoTimeout = TimeSpan.FromSeconds(1) });
        var release = new TaskCompletionSource();
        server.Hooks.BeforeChunk = chunk => chunk == 3 ? release.Task : Task.CompletedTask;
        var ticket = server.Offer("params", Tensor(100_000));
        try
        {
            var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[100_000]).Bounded());
            OneLine(e, server.Endpoint);
            Assert.Contains("no progress for 1 s", e.Message);
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task Cancelling_a_fetch_ends_it_at_once_while_the_server_hangs()
    {
        await using var server = new DataPlaneServer(Options(chunkBytes: 4096));
        await using var client = new DataPlaneClient(Options());
        var release = new TaskCompletionSource();
        var hung = new TaskCompletionSource();
        server.Hooks.BeforeChunk = chunk =>
        {
            if (chunk != 2) return Task.CompletedTask;
            hung.TrySetResult();
            return release.Task;
        };
        var ticket = server.Offer("params", Tensor(100_000));
        using var cancel = new CancellationTokenSource();
        var fetch = client.FetchAsync(ticket, new float[100_000], cancel.Token);
        try
        {
            await hung.Task.Bounded();
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch.Bounded());
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task A_peer_that_accepts_and_never_answers_fails_the_fetch_within_the_connect_timeout()
    {
        var (silent, port) = RawListener();
        using var owned = silent;
        await using var client = new DataPlaneClient(Options() with { ConnectTimeout = TimeSpan.FromSeconds(1) });
        var ticket = new TensorTicket("127.0.0.1", port, "params", 10, 0);
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[10]).Bounded());
        OneLine(e, ticket.Endpoint);
        Assert.Contains("no handshake within 1 s", e.Message);
    }

    [Fact]
    public async Task Nothing_listening_fails_the_fetch_at_once_with_one_line_and_a_hint()
    {
        var (bound, port) = RawListener(listen: false);
        bound.Dispose();
        await using var client = new DataPlaneClient(Options());
        var ticket = new TensorTicket("127.0.0.1", port, "params", 10, 0);
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.FetchAsync(ticket, new float[10]).Bounded());
        OneLine(e, ticket.Endpoint);
        Assert.Contains("cannot connect", e.Message);
        Assert.Contains("HINT", e.Message);
    }

    [Fact]
    public async Task A_port_in_use_is_a_user_error_naming_it_with_a_hint()
    {
        await using var first = new DataPlaneServer(Options());
        var e = Assert.Throws<UserError>(() => new DataPlaneServer(Options() with { Port = first.Endpoint.Port }));
        Assert.Contains($"127.0.0.1:{first.Endpoint.Port}", e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
