using System.Diagnostics;
using Akka.Actor;
using ImageGpt.Actors.Cluster;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Health;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Actors.Training;
using static ImageGpt.Actors.Tests.Training.TrainingFixture;

namespace ImageGpt.Actors.Tests.Cluster;

/// <summary>
/// The health of another member's actors, over real remoting between two members of this process: what the run's root
/// writes into status.json and a dashboard on any member shows (<see cref="ClusterView"/>).
/// </summary>
[Collection(ClusterMembersCollection.Name)]
public sealed class ClusterHealthTests : IDisposable
{
    private readonly ClusterMembers _members = new();

    public void Dispose() => _members.Dispose();

    private static readonly RuntimeSettings Runtime = new(1, 1, 1, TimeSpan.FromSeconds(60),
        TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), MaxRestarts: 2, RestartWindow: TimeSpan.FromMinutes(1));

    private sealed class Flaky : MonitoredActor
    {
        public Flaky() => Receive<string>(s => throw new InvalidOperationException(s));
    }

    private async Task<ActorSystem> Member(ActorSystem? seed)
    {
        var system = _members.Add(Config(_members.Dir, trainers: 1), TestRuns.Reference, seed);
        await ClusterNode.JoinAsync(system, TimeSpan.FromSeconds(30)).Bounded();
        return system;
    }

    /// <summary>The view of <paramref name="from"/> once <paramref name="holds"/> (bounded).</summary>
    private static async Task<ClusterView> ViewOnce(ActorSystem from, Func<ClusterView, bool> holds)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var view = ClusterView.Seen(from);
            if (view is not null && holds(view)) return view;
            if (clock.Elapsed > TestRuns.Patience) Assert.Fail($"the view did not come within {TestRuns.Patience}: {System.Text.Json.JsonSerializer.Serialize(view)}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_member_sees_the_actors_of_another_member_with_their_state_restarts_and_last_failure()
    {
        var a = await Member(seed: null);
        var b = await Member(seed: a);
        var supervisor = b.ActorOf(Supervision.Backoff(Props.Create(() => new Flaky()), "flaky", Runtime), "supervisor");
        supervisor.Tell(new string('x', 2000));
        string bAddress = Akka.Cluster.Cluster.Get(b).SelfAddress.ToString();
        string path = supervisor.Path + "/flaky";

        var view = await ViewOnce(a, v => v.Members.Any(m => m.Address == bAddress && m.Actors?.Actors.Any(x => x.Path == path && x.Restarts == 1 && x.LastFailure is not null) == true));
        ActorHealth seen = view.Members.Single(m => m.Address == bAddress).Actors!.Actors.Single(x => x.Path == path);
        Assert.Equal((ActorState.Running, nameof(Flaky), 1L), (seen.State, seen.ActorType, seen.MessagesProcessed));
        Assert.Equal(typeof(InvalidOperationException).FullName, seen.LastFailure!.ExceptionType);
        // Cut, so that one long message cannot make the answer too big for Akka.Remote.
        Assert.Equal(new string('x', 500) + "…", seen.LastFailure.Message);
        // The root is the oldest member with the aggregator role, both are Up, and a's own actors are its registry's.
        Assert.Equal(Akka.Cluster.Cluster.Get(a).SelfAddress.ToString(), view.Root);
        Assert.All(view.Members, m => Assert.Equal("Up", m.Status));
        Assert.Equal(a.Name, view.Members.Single(m => m.Address == view.Root).Actors!.System);
        Assert.DoesNotContain(view.Members.Single(m => m.Address == view.Root).Actors!.Actors, x => x.Path == path);
    }
}
