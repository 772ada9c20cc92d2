using System.Threading.Channels;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn.Data;
using static ImageGpt.Actors.Tests.DataPlane.DataPlaneFixture;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>A trainer node without the data set reads its lane of batches streamed from a data node.</summary>
public sealed class BatchStreamTests
{
    private static async Task<List<ShardBatch>> ReadAll(ChannelReader<ShardBatch> reader)
    {
        var all = new List<ShardBatch>();
        await foreach (var b in reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TestRuns.Patience).Token)) all.Add(b);
        return all;
    }

    private static IEnumerable<(long Step, int Shard)> Lane(int firstStep, int endStep, params int[] shards) =>
        from s in Enumerable.Range(firstStep, endStep - firstStep) from k in shards select ((long)s, k);

    [Fact]
    public async Task A_lane_arrives_complete_in_step_and_shard_order_and_then_completes()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 4);
        server.ServeBatches(source);
        await using var client = new DataPlaneClient(Options());
        await using var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(4, [1, 3], FromStep: 5, ToStep: 25, Prefetch: 3));
        var got = await ReadAll(sub.Reader).Bounded();
        var want = Lane(5, 25, 1, 3).ToList();
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++) CountingBatchSource.Same(source.Expected(want[i].Step, want[i].Shard), got[i]);
        Assert.Equal(want.Count, source.Made);
        Assert.Equal(0, sub.Reconnects);
        Assert.InRange(server.MaxUnacknowledged, 1, 3);
    }

    [Fact]
    public async Task The_data_node_stops_at_prefetch_unread_batches_and_sends_one_more_per_batch_read()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 2);
        server.ServeBatches(source);
        var waits = Channel.CreateUnbounded<(long Next, long Unacknowledged, int Made)>();
        server.Hooks.WaitingForCredit = (next, unacked) => waits.Writer.TryWrite((next, unacked, source.Made));
        await using var client = new DataPlaneClient(Options());
        const int prefetch = 3;
        await using var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(2, [0, 1], FromStep: 0, ToStep: 50, prefetch));

        // The reader takes nothing: the data node makes and sends `prefetch` batches, then waits for credit.
        var w = await NextWaitAt(waits.Reader, prefetch);
        Assert.Equal((prefetch, prefetch, prefetch), w);
        for (int read = 1; read <= 5; read++)
        {
            await sub.Reader.WaitToReadAsync().AsTask().Bounded();
            Assert.True(sub.Reader.TryRead(out var b));
            CountingBatchSource.Same(source.Expected((read - 1) / 2, (read - 1) % 2), b);
            // One batch read is one more batch made and sent, and no more.
            w = await NextWaitAt(waits.Reader, prefetch + read);
            Assert.Equal((prefetch + read, prefetch, prefetch + read), w);
        }
        Assert.Equal(prefetch, server.MaxUnacknowledged);
    }

    private static async Task<(long, long, int)> NextWaitAt(ChannelReader<(long Next, long Unacknowledged, int Made)> waits, long next)
    {
        while (true)
        {
            var w = await waits.ReadAsync().AsTask().Bounded();
            if (w.Next == next) return w;
            Assert.True(w.Next < next, $"the data node went on to batch {w.Next} before batch {next - 1} was read");
        }
    }

    [Fact]
    public async Task After_a_dropped_connection_the_stream_resumes_at_the_first_batch_not_received()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 3);
        server.ServeBatches(source);
        await using var client = new DataPlaneClient(Options());
        await using var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(3, [0, 2], FromStep: 0, ToStep: 20, Prefetch: 4));
        var got = new List<ShardBatch>();
        for (int i = 0; i < 7; i++) got.Add(await sub.Reader.ReadAsync().AsTask().Bounded());
        server.KillConnections();
        got.AddRange(await ReadAll(sub.Reader).Bounded());

        var want = Lane(0, 20, 0, 2).ToList();
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++) CountingBatchSource.Same(source.Expected(want[i].Step, want[i].Shard), got[i]);
        Assert.True(sub.Reconnects >= 1, "the stream never reconnected");
        // Only batches sent but lost with the connection are made twice: at most one window.
        Assert.InRange(source.Made, want.Count, want.Count + 4);
    }

    [Fact]
    public async Task A_subscriber_that_stops_frees_its_stream_on_the_data_node_which_serves_the_next_one()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 1);
        server.ServeBatches(source);
        await using var client = new DataPlaneClient(Options());
        var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(1, [0], FromStep: 0, ToStep: 1000, Prefetch: 2));
        await sub.Reader.ReadAsync().AsTask().Bounded();
        await sub.DisposeAsync().AsTask().Bounded();
        await TestRuns.Eventually(() => server.ActiveStreams == 0 && server.LiveConnections == 0, "the data node closes the stopped subscriber's stream");
        Assert.InRange(source.Made, 1, 3);

        await using var next = client.Subscribe(server.Endpoint, new BatchStreamRequest(1, [0], FromStep: 10, ToStep: 12, Prefetch: 2));
        var got = await ReadAll(next.Reader).Bounded();
        Assert.Equal([10L, 11L], got.Select(b => (long)b.Id.Epoch * 7 + b.Id.Step));
    }

    [Fact]
    public async Task One_batch_is_fetched_on_its_own_for_a_shard_that_moved_here()
    {
        await using var server = new DataPlaneServer(Options());
        var source = new CountingBatchSource(shardsPerStep: 4);
        server.ServeBatches(source);
        await using var client = new DataPlaneClient(Options());
        var b = await client.FetchBatchAsync(server.Endpoint, 4, step: 17, shard: 2).Bounded();
        CountingBatchSource.Same(source.Expected(17, 2), b);
        Assert.Equal(1, source.Made);
    }

    [Fact]
    public async Task A_node_without_data_and_a_lane_of_another_shard_count_are_refused_in_one_line()
    {
        await using var server = new DataPlaneServer(Options());
        await using var client = new DataPlaneClient(Options());
        await using var none = client.Subscribe(server.Endpoint, new BatchStreamRequest(2, [0], 0, 5, 2));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => none.Reader.ReadAsync().AsTask().Bounded());
        OneLine(e, server.Endpoint);
        Assert.True(e.Refused);
        Assert.Contains("serves no batches", e.Message);

        server.ServeBatches(new CountingBatchSource(shardsPerStep: 4));
        await using var other = client.Subscribe(server.Endpoint, new BatchStreamRequest(2, [0], 0, 5, 2));
        e = await Assert.ThrowsAsync<DataPlaneException>(() => other.Reader.ReadAsync().AsTask().Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("counts 2 shards per step, this data node's run has 4", e.Message);
    }

    [Fact]
    public async Task A_batch_the_data_node_cannot_make_fails_the_lane_with_the_reason()
    {
        await using var server = new DataPlaneServer(Options());
        server.ServeBatches(new FailingSource());
        await using var client = new DataPlaneClient(Options());
        await using var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(2, [1], 0, 10, 2));
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => ReadAll(sub.Reader).Bounded());
        OneLine(e, server.Endpoint);
        Assert.Contains("cannot make shard 1 of step 3: the disk is gone", e.Message);
    }

    private sealed class FailingSource : IBatchSource
    {
        private readonly CountingBatchSource _inner = new(shardsPerStep: 2);

        public int ShardsPerStep => 2;

        public ShardBatch Make(long step, int shard) => step < 3 ? _inner.Make(step, shard) : throw new IOException("the disk is gone");
    }

    [Fact]
    public async Task A_data_node_that_stays_down_fails_the_lane_after_the_reconnect_attempts()
    {
        var server = new DataPlaneServer(Options());
        server.ServeBatches(new CountingBatchSource(shardsPerStep: 1));
        var endpoint = server.Endpoint;
        await using var client = new DataPlaneClient(Options() with { ReconnectAttempts = 2 });
        await using var sub = client.Subscribe(endpoint, new BatchStreamRequest(1, [0], 0, 100, 2));
        await sub.Reader.ReadAsync().AsTask().Bounded();
        await server.DisposeAsync();
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => ReadAll(sub.Reader).Bounded());
        OneLine(e, endpoint);
        Assert.Contains("failed after 2 reconnects", e.Message);
    }

    [Fact]
    public async Task The_sampler_source_streams_exactly_the_batches_a_local_loader_makes()
    {
        var sampler = new BatchSampler(new SyntheticSamples(count: 200, t: 12), batchSize: 16, shards: 4, seed: 42);
        await using var server = new DataPlaneServer(Options());
        server.ServeBatches(new SamplerBatchSource(sampler));
        await using var client = new DataPlaneClient(Options());
        // Steps 10..15 cross the epoch boundary (12 steps per epoch).
        await using var sub = client.Subscribe(server.Endpoint, new BatchStreamRequest(4, [0, 3], FromStep: 10, ToStep: 15, Prefetch: 2));
        var got = await ReadAll(sub.Reader).Bounded();
        var want = Lane(10, 15, 0, 3).Select(x => sampler.Shard(sampler.Id(x.Step, x.Shard))).ToList();
        Assert.Equal(want.Count, got.Count);
        for (int i = 0; i < want.Count; i++) CountingBatchSource.Same(want[i], got[i]);
        Assert.Contains(got, b => b.Id.Epoch == 1);
    }
}
