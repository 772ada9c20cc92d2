using System.Globalization;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Cluster;

/// <summary>Joining a run's cluster: the options a member starts with, waiting until it is Up, and how it describes itself.</summary>
public static class ClusterNode
{
    /// <summary>The cluster options of a member of <paramref name="config"/>'s run; <paramref name="seeds"/> are host:port (from --seed).</summary>
    public static ClusterOptions Options(RunConfig config, Config resolved, IReadOnlyList<string> seeds)
    {
        string system = AkkaSettings.SystemName(config.RunId);
        var addresses = seeds.Select(seed => Address(system, seed)).ToList();
        return new ClusterOptions(system, addresses, (config.Cluster ?? Defaults).LeaseTtl);
    }

    private static readonly ClusterSettings Defaults = new(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), 0);

    private static string Address(string system, string seed)
    {
        int colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new UserError($"--seed '{seed}' is not host:port. HINT: pass the address imagegpt train printed, e.g. --seed 127.0.0.1:41234");
        return $"akka.tcp://{system}@{seed[..colon]}:{port}";
    }

    /// <summary>
    /// Joins the seeds the system was configured with, or founds the cluster when there are none, and waits until this
    /// member is Up. A seed that does not answer within <paramref name="timeout"/> is a user error.
    /// </summary>
    public static async Task JoinAsync(ActorSystem system, TimeSpan timeout)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        var seeds = cluster.Settings.SeedNodes;
        if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
        try { await up.Task.WaitAsync(timeout).ConfigureAwait(false); }
        catch (TimeoutException)
        {
            throw new UserError($"no member of the run's cluster answered at {string.Join(", ", seeds)} within {timeout.TotalSeconds:0} s. " +
                "HINT: check that imagegpt train (or another node) runs there and that the address is the one it printed; a node of another run has another system name and cannot be joined");
        }
    }

    /// <summary>"akka.tcp://system@host:port, roles aggregator, trainer, data".</summary>
    public static string Describe(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        return $"member {cluster.SelfAddress} (roles {string.Join(", ", cluster.SelfRoles.Order(StringComparer.Ordinal))})";
    }
}
