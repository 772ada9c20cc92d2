using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using ImageGpt.Nn.Data;
using static ImageGpt.Actors.Tests.DataPlane.DataPlaneFixture;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>
/// A trainer node without the data set: its loaders (the product's <see cref="DataLoaderActor"/>) fill their lanes from a
/// data node's stream (<see cref="StreamedLaneSource"/>). The lane must hold exactly the batches a local loader makes, in
/// the same order, with the same bound on how far the producer runs ahead of the trainer.
/// </summary>
public sealed class StreamedLaneTests : IAsyncLifetime
{
    // 200 samples, batch 16: 12 steps per epoch, so a lane of 30 steps crosses two epoch boundaries.
    private readonly BatchSampler _sampler = new(new SyntheticSamples(count: 200, t: 12), batchSize: 16, shards: 4, seed: 42);
    private readonly ActorSystem _system = ActorSystem.Create("lanes", "akka.loglevel = WARNING");
    private readonly CancellationTokenSource _stopping = new();
    private readonly DataPlaneServer _server = new(Options());
    private readonly DataPlaneClient _client = new(Options());
    private readonly CountingSource _made;

    public StreamedLaneTests()
    {
        _made = new CountingSource(new SamplerBatchSource(_sampler));
        _server.ServeBatches(_made);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _system.Terminate().Bounded();
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        _stopping.Dispose();
    }

    private (BatchLane Lane, StreamedLaneSource Source) StreamedLane(int prefetch, long toStep, DataPlaneClient? client = null)
    {
        var source = new StreamedLaneSource(client ?? _client, _server.Endpoint, () => throw new InvalidOperationException("the only data node failed"), _sampler, toStep);
        return (new BatchLane(0, _sampler, source, toStep, StreamedLaneSource.Capacity(prefetch), _stopping.Token), source);
    }

    private BatchLane LocalLane(int prefetch, long toStep) => new(0, _sampler, new LocalLaneSource(_sampler), toStep, prefetch, _stopping.Token);

    private void Load(BatchLane lane) => _system.ActorOf(Props.Create(() => new DataLoaderActor(lane, null)));

    private static Task<ShardBatch> Take(BatchLane lane) => lane.Channel.Reader.ReadAsync().AsTask().Bounded();

    [Fact]
    public async Task A_streamed_lane_holds_the_bytes_of_a_local_lane_in_the_same_order_across_epochs_and_a_replan()
    {
        const long steps = 30;
        var local = LocalLane(prefetch: 4, steps);
        var (streamed, _) = StreamedLane(prefetch: 4, steps);
        // Trainer 1 of 2: home shards 1 and 3 of each step.
        foreach (var lane in new[] { local, streamed })
        {
            lane.Replan(0, index: 1, trainers: 2);
            Load(lane);
        }
        for (long step = 0; step < 12; step++)
            foreach (int shard in new[] { 1, 3 })
            {
                var want = _sampler.Shard(_sampler.Id(step, shard));
                CountingBatchSource.Same(want, await Take(local));
                CountingBatchSource.Same(want, await Take(streamed));
            }

        // From step 20 on the run has three trainers and this lane's are shards 0 and 3: the stream is opened again for them.
        // Batches queued under the old plan are the trainer's to drop (it skips keys before the one it wants).
        foreach (var lane in new[] { local, streamed }) lane.Replan(20, index: 0, trainers: 3);
        foreach (var lane in new[] { local, streamed })
        {
            var got = new List<ShardBatch>();
            while (got.Count < 20)
            {
                var b = await Take(lane);
                if (_sampler.GlobalStep(b.Id) >= 20) got.Add(b);
            }
            var want = (from step in Enumerable.Range(20, 10) from shard in new[] { 0, 3 } select _sampler.Shard(_sampler.Id(step, shard))).ToList();
            for (int i = 0; i < want.Count; i++) CountingBatchSource.Same(want[i], got[i]);
            Assert.Contains(got, b => b.Id.Epoch == 2);
            // The lane ends at train.steps: nothing more comes. (The loader advances its cursor just after it has written a
            // batch, so the test may have read the last one first: it waits, bounded, for the cursor to pass the end.)
            await TestRuns.Eventually(() => lane.Next() is null, "the loader's cursor passes the lane's last step");
            Assert.False(lane.Channel.Reader.TryRead(out _));
        }
    }

    [Fact]
    public async Task The_data_node_runs_at_most_prefetch_plus_one_batches_ahead_of_the_trainer_as_a_local_loader_does()
    {
        const int prefetch = 3;
        long waitingAt = -1, loading = -1;
        _server.Hooks.WaitingForCredit = (next, _) => Volatile.Write(ref waitingAt, next);
        var hooks = new TrainingHooks { BeforeLoad = (_, id) => Volatile.Write(ref loading, _sampler.GlobalStep(id) * 4 + id.Shard) };
        var (lane, _) = StreamedLane(prefetch, toStep: 100);
        // One trainer: every shard is home, so a batch's key in the lane is its ordinal in the stream.
        lane.Replan(0, index: 0, trainers: 1);
        _system.ActorOf(Props.Create(() => new DataLoaderActor(lane, hooks)));
        for (int taken = 0; taken <= 6; taken++)
        {
            if (taken > 0) CountingBatchSource.Same(_sampler.Shard(_sampler.Id((taken - 1) / 4, (taken - 1) % 4)), await Take(lane));
            // Stalled: the channel is full, the loader holds the next batch (it asked for it, and the data node was given
            // the credit that taking it returns: it sent the one after and waits), and nothing can move until the trainer
            // takes a batch. In this state, and so at any time, the data node has made prefetch + 1 batches the trainer has not
            // taken: the channel's prefetch - 1, the loader's one, the stream's one. A local loader: its channel's prefetch and one in its hands.
            int capacity = StreamedLaneSource.Capacity(prefetch);
            long held = taken + capacity;
            await TestRuns.Eventually(() =>
                lane.Channel.Reader.Count == capacity && lane.Channel.Reader.TryPeek(out var head) && lane.Key(head) == taken
                && Volatile.Read(ref loading) == held && Volatile.Read(ref waitingAt) == held + 2, $"the lane stalls after the trainer took {taken} batches");
            Assert.Equal(taken + prefetch + 1, _made.Made);
        }
    }

    [Fact]
    public async Task A_node_without_the_runs_secret_gets_no_batch()
    {
        await using var stranger = new DataPlaneClient(Options(secret: "not-the-run-secret-0123456789"));
        var (lane, source) = StreamedLane(prefetch: 2, toStep: 10, stranger);
        lane.Replan(0, index: 0, trainers: 1);
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => source.NextAsync(_sampler.Id(0, 0), 0, [0, 1, 2, 3], default).AsTask().Bounded());
        Assert.True(e.Refused);
        Assert.Contains("wrong run secret", e.Message);
        e = await Assert.ThrowsAsync<DataPlaneException>(() => source.OneAsync(_sampler.Id(3, 2), 3, default).AsTask().Bounded());
        Assert.Contains("wrong run secret", e.Message);
        Assert.Equal(0, _made.Made);
    }

    [Fact]
    public async Task A_shard_the_lane_does_not_stream_comes_on_its_own_with_the_same_bytes()
    {
        var (_, source) = StreamedLane(prefetch: 2, toStep: 30);
        var id = _sampler.Id(25, 2);
        CountingBatchSource.Same(_sampler.Shard(id), await source.OneAsync(id, 25, default).AsTask().Bounded());
        // The loader asked for a shard its lane was replanned away from: it is not taken from the stream.
        CountingBatchSource.Same(_sampler.Shard(_sampler.Id(4, 1)), await source.NextAsync(_sampler.Id(4, 1), 4, [0, 2], default).AsTask().Bounded());
        Assert.Equal(2, _made.Made);
    }

    [Fact]
    public async Task When_the_data_node_dies_the_restarted_loader_streams_from_the_one_found_then_and_the_bytes_stay_the_same()
    {
        var doomed = new DataPlaneServer(Options());
        doomed.ServeBatches(new SamplerBatchSource(_sampler));
        var gone = doomed.Endpoint;
        int found = 0;
        await using var client = new DataPlaneClient(Options() with { ReconnectAttempts = 1 });
        var source = new StreamedLaneSource(client, gone, () =>
        {
            Interlocked.Increment(ref found);
            return Task.FromResult(_server.Endpoint);
        }, _sampler, toStep: 12);
        var lane = new BatchLane(0, _sampler, source, 12, StreamedLaneSource.Capacity(2), _stopping.Token);
        lane.Replan(0, index: 0, trainers: 2);
        _system.ActorOf(Supervision.Backoff(Props.Create(() => new DataLoaderActor(lane, null)), "loader",
            new RuntimeSettings(1, 1, 2, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(100), MaxRestarts: 10, TimeSpan.FromMinutes(1))));
        var want = (from step in Enumerable.Range(0, 12) from shard in new[] { 0, 2 } select _sampler.Shard(_sampler.Id(step, shard))).ToList();
        for (int i = 0; i < 3; i++) CountingBatchSource.Same(want[i], await Take(lane));
        await doomed.DisposeAsync();
        for (int i = 3; i < want.Count; i++) CountingBatchSource.Same(want[i], await Take(lane));
        Assert.Equal(1, Volatile.Read(ref found));
        Assert.True(_made.Made > 0, "the second data node made none of the batches");
        // A shard on its own, asked of the dead node, comes from the live one.
        await using var one = new StreamedLaneSource(client, gone, () => Task.FromResult(_server.Endpoint), _sampler, toStep: 12);
        CountingBatchSource.Same(_sampler.Shard(_sampler.Id(7, 3)), await one.OneAsync(_sampler.Id(7, 3), 7, default).AsTask().Bounded());
    }

    /// <summary>The data node's batches, counted as they are made.</summary>
    private sealed class CountingSource(IBatchSource inner) : IBatchSource
    {
        private int _made;

        public int Made => Volatile.Read(ref _made);

        public int ShardsPerStep => inner.ShardsPerStep;

        public ShardBatch Make(long step, int shard)
        {
            Interlocked.Increment(ref _made);
            return inner.Make(step, shard);
        }
    }
}
