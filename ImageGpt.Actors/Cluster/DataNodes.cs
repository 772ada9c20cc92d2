using System.Diagnostics;
using Akka.Actor;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Cluster;

/// <summary>How a trainer node without the data set finds a member that serves the run's batches.</summary>
public static class DataNodes
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The first member with the data role (Up, in address order) that answers; asked again until one does or
    /// <paramref name="timeout"/> has passed, after which it is a user error.
    /// </summary>
    public static async Task<BatchesServed> FindAsync(ActorSystem system, TimeSpan timeout)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var members = cluster.State.Members
                .Where(m => m.HasRole(ClusterRun.DataRole) && m.Status == Akka.Cluster.MemberStatus.Up && m.Address != cluster.SelfAddress)
                .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal);
            foreach (var member in members)
            {
                var data = system.ActorSelection(new RootActorPath(member.Address) / "user" / DataNodeActor.Name);
                try { return await data.Ask<BatchesServed>(WhereAreBatches.Instance, AskTimeout).ConfigureAwait(false); }
                catch (AskTimeoutException) { }
            }
            if (clock.Elapsed > timeout)
                throw new UserError($"no member of the run's cluster with the data role answered within {timeout.TotalSeconds:0} s, and this node has no data set (roles {string.Join(", ", cluster.SelfRoles.Order(StringComparer.Ordinal))}). " +
                    "HINT: start a node with the data role (and the data set) first, or give this node the data role and the data set");
            await Task.Delay(TimeSpan.FromMilliseconds(500)).ConfigureAwait(false);
        }
    }
}
