using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Tests.Training;
using ImageGpt.Actors.Training;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Cluster;

/// <summary>
/// Members of a run's cluster as actor systems of this process on 127.0.0.1: they talk over Akka.Remote and move
/// tensors over their data planes exactly as separate processes do (each system has its own replica, data plane and
/// store connection); only the kills need real processes (ImageGpt.Host.Tests). The plain loop is the oracle. They run
/// alone: two members and their stores would otherwise crowd the tests that measure the process's memory.
/// </summary>
[Collection(ClusterMembersCollection.Name)]
public sealed class ClusterRunTests : IDisposable
{
    private const string Secret = "cluster-test-secret-0123456789abcdef";
    private static readonly string Identity = "{\"identity\":1}";
    private readonly ClusterMembers _members = new();

    public void Dispose() => _members.Dispose();

    private RunConfig Run(int steps = 12, int every = 5) =>
        Config(_members.Dir, trainers: 1, steps: steps, every: every) with { Secret = Secret, Cluster = new ClusterSettings(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), 0, 1) };

    /// <summary>
    /// A member on 127.0.0.1 with its own connection to the run's SQLite store; it joins <paramref name="seed"/>, or founds
    /// the cluster. Its roles are every role unless <paramref name="roles"/> names them ("aggregator, data").
    /// </summary>
    private async Task<ActorSystem> Member(RunConfig c, ActorSystem? seed, string? roles = null)
    {
        var resolved = roles is null ? TestRuns.Reference : TestRuns.Reference.WithValue("akka.cluster.roles", $"[{roles}]");
        var system = _members.Add(c, resolved, seed);
        await ClusterNode.JoinAsync(system, TimeSpan.FromSeconds(30)).Bounded();
        return system;
    }

    private static TrainingInputs Inputs() => new(Data(), new Nn.Palette.Palette(1, [-0.9f, -0.6f, -0.3f, 0f, 0.2f, 0.4f, 0.6f, 0.9f]), null);

    private Task<RunEnded> Start(ActorSystem member, RunConfig c, ITrainingObserver observer, TrainingHooks? hooks = null) =>
        ClusterRun.Start(member, new ClusterNodeSetup(c, Inputs(), _members.StoreOf(member), Identity, observer, hooks));

    private async Task<Checkpoint> Latest(ActorSystem member)
    {
        var history = await RunJournal.ReadAsync(member, RunId).Bounded();
        return ((ICheckpointStore)_members.StoreOf(member).Blobs).LoadLatest(history, w => Assert.Fail(w))
            ?? throw new InvalidOperationException("no checkpoint");
    }

    /// <summary>
    /// A member with the aggregator and no trainer, and a member with one trainer, run <paramref name="c"/> to its end;
    /// both end alike, with the plain loop's weights.
    /// </summary>
    private async Task RunWithOneTrainerMember(RunConfig c, Recorder root, TrainingHooks rootHooks, TrainingHooks? trainerHooks = null)
    {
        var a = await Member(c, seed: null, roles: "aggregator, data");
        var endedA = Start(a, c, root, rootHooks);
        var trainer = await Member(c, seed: a, roles: "trainer, data");
        var endedTrainer = Start(trainer, c, new Recorder(), trainerHooks);
        var outcome = await endedA.Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(c.Train.Steps, outcome.Step);
        Assert.Equal(outcome, await endedTrainer.Bounded());
        Assert.Equal(Reference(c, c.Train.Steps), (await Latest(a)).Parameters);
    }

    [Fact]
    public async Task A_node_that_joins_at_step_k_trains_from_the_next_step_and_the_weights_are_the_plain_loops()
    {
        const int k = 4;
        var c = Run();
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new Recorder(onWarning: w => { if (w.Contains("joins the run at the next step", StringComparison.Ordinal)) joined.TrySetResult(); });
        // The first member's trainer holds step k until the second member's trainer has registered, and the second member
        // starts only once the first holds: it joins at k + 1.
        var hold = new TrainingHooks
        {
            BeforeShard = (_, step, _) =>
            {
                if (step != k) return;
                holding.TrySetResult();
                joined.Task.Wait(TestRuns.Patience);
            },
        };
        var a = await Member(c, seed: null);
        var endedA = Start(a, c, first, hold);
        await holding.Task.Bounded();
        var b = await Member(c, seed: a);
        var endedB = Start(b, c, new Recorder());

        var outcome = await endedA.Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(outcome, await endedB.Bounded());
        Assert.Equal(12, outcome.Step);
        Assert.Contains($"from step {k + 1} the run has 2 trainer(s)", first.AllWarnings);
        var latest = await Latest(a);
        Assert.Equal(12, latest.Step);
        Assert.Equal(Reference(c, 12), latest.Parameters);
    }

    [Fact]
    public async Task When_the_only_trainers_node_leaves_mid_step_the_step_starts_over_on_a_node_that_joins_and_the_weights_are_the_plain_loops()
    {
        const int k = 4;
        var c = Run();
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var alone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var root = new Recorder(onWarning: w => { if (w.Contains("no trainer is left", StringComparison.Ordinal)) alone.TrySetResult(); });
        // The leaving node's trainer holds the last shard of step k, its other shards delivered, until the root has given the step up.
        var hold = new TrainingHooks
        {
            BeforeShard = (_, step, shard) =>
            {
                if (step != k || shard != Shards - 1) return;
                holding.TrySetResult();
                alone.Task.Wait(TestRuns.Patience);
            },
        };
        var a = await Member(c, seed: null, roles: "aggregator, data");
        var endedA = Start(a, c, root);
        var leaver = await Member(c, seed: a, roles: "trainer, data");
        _ = Start(leaver, c, new Recorder(), hold);
        await holding.Task.Bounded();
        // As on SIGTERM: the node says it leaves the run, then leaves the cluster.
        var left = CoordinatedShutdown.Get(leaver).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await alone.Task.Bounded();
        Assert.Contains($"step {k}: no trainer is left; waiting for one to join", root.AllWarnings);
        await left.Bounded();
        Assert.False(endedA.IsCompleted);

        var joiner = await Member(c, seed: a, roles: "trainer, data");
        var endedJoiner = Start(joiner, c, new Recorder());
        var outcome = await endedA.Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(12, outcome.Step);
        Assert.Equal(outcome, await endedJoiner.Bounded());
        Assert.Equal(Reference(c, 12), (await Latest(a)).Parameters);
    }

    [Fact]
    public async Task A_gradient_that_cannot_be_fetched_from_the_only_trainer_is_computed_again_and_the_weights_are_the_plain_loops()
    {
        const int k = 3;
        var c = Run();
        int failed = 0;
        var faults = new TrainingHooks
        {
            BeforeFetch = (step, shard) =>
            {
                if (step == k && shard == 1 && Interlocked.Exchange(ref failed, 1) == 0) throw new IOException("injected: connection reset");
            },
        };
        var root = new Recorder();
        await RunWithOneTrainerMember(c, root, faults);
        Assert.Equal(1, failed);
        Assert.Matches($"step {k}: the gradient of shard 1 from .*trainer-0 could not be fetched \\(injected: connection reset\\); .*trainer-0 computes it again", root.AllWarnings);
    }

    [Fact]
    public async Task A_lost_offer_from_the_only_trainer_is_asked_for_again_at_the_deadline_and_the_weights_are_the_plain_loops()
    {
        const int k = 3;
        // Step k is past the first step, whose deadline is longer (it compiles the kernels). A later step that misses its
        // 2 s on a busy machine is asked for again too: its held offers are sent again, which changes no weight.
        var c = Run() with { Runtime = Run().Runtime with { StepDeadline = TimeSpan.FromSeconds(2) } };
        int lost = 0;
        var faults = new TrainingHooks { LoseOffer = (step, shard) => step == k && shard == 2 && Interlocked.Exchange(ref lost, 1) == 0 };
        var root = new Recorder();
        int computed = 0;
        var count = new TrainingHooks { BeforeShard = (_, step, shard) => { if (step == k && shard == 2) Interlocked.Increment(ref computed); } };
        await RunWithOneTrainerMember(c, root, faults, count);
        Assert.Equal(1, lost);
        // The trainer answered with the offer it still held (never fetched), not by computing the shard again.
        Assert.Equal(1, computed);
        Assert.Matches($"step {k}: shards (.*,)?2(,.*)? are past the 2 s deadline and there is no other trainer; asking .*trainer-0 again", root.AllWarnings);
    }

    [Fact]
    public async Task A_node_without_the_runs_secret_is_refused_leaves_and_reads_no_tensor_and_the_run_goes_on()
    {
        var c = Run() with { Cluster = new ClusterSettings(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), 0, 2) };
        var first = new Recorder();
        var a = await Member(c, seed: null);
        var endedA = Start(a, c, first);
        var intruderConfig = c with { Secret = "another-secret-0123456789abcdefgh" };
        var intruder = await Member(intruderConfig, seed: a);
        var refused = await Start(intruder, intruderConfig, new Recorder()).Bounded();
        Assert.True(refused.Refused);
        Assert.StartsWith("the run refused this node: wrong run secret. HINT:", refused.Error);
        await TestRuns.Eventually(() => Akka.Cluster.Cluster.Get(a).State.Members.All(m => m.Address != Akka.Cluster.Cluster.Get(intruder).SelfAddress),
            "the refused node leaves the cluster");
        Assert.Contains("refused the node at", first.AllWarnings);
        // Nor can a peer with its secret read a tensor from the run's data plane (the run still waits for cluster.min-trainers = 2).
        var ticket = NodeDataPlane.Get(a).Server.Offer("params/probe", new float[1000]);
        await using (var stranger = new ImageGpt.Actors.DataPlane.DataPlaneClient(new ImageGpt.Actors.DataPlane.DataPlaneOptions { Secret = intruderConfig.Secret }))
        {
            var e = await Assert.ThrowsAsync<ImageGpt.Actors.DataPlane.DataPlaneException>(() => stranger.FetchAsync(ticket, new float[1000]).Bounded());
            Assert.True(e.Refused);
            Assert.Contains("wrong run secret", e.Message);
        }
        await NodeDataPlane.Get(a).Server.WithdrawAsync(ticket.Id);
        Assert.False(endedA.IsCompleted);

        var b = await Member(c, seed: a);
        var endedB = Start(b, c, new Recorder());
        var outcome = await endedA.Bounded();
        Assert.Null(outcome.Error);
        Assert.Equal(outcome, await endedB.Bounded());
        Assert.Equal(Reference(c, 12), (await Latest(a)).Parameters);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterMembersCollection
{
    public const string Name = "cluster members";
}
