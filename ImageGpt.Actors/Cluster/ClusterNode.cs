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
        // Remoting over TLS names its addresses akka.ssl.tcp://.
        string scheme = resolved.HasPath("akka.remote.dot-netty.tcp.enable-ssl") && resolved.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl") ? "akka.ssl.tcp" : "akka.tcp";
        var addresses = seeds.Select(seed => Address(scheme, system, seed)).ToList();
        return new ClusterOptions(system, addresses, (config.Cluster ?? Defaults).LeaseTtl);
    }

    private static readonly ClusterSettings Defaults = new(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30), 0);

    private static string Address(string scheme, string system, string seed)
    {
        int colon = seed.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(seed.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new UserError($"--seed '{seed}' is not host:port. HINT: pass the address imagegpt train printed, e.g. --seed 127.0.0.1:41234");
        return $"{scheme}://{system}@{seed[..colon]}:{port}";
    }

    /// <summary>
    /// The actor system of a member: <paramref name="akka"/> (from <see cref="AkkaSettings.Build"/>) with the run's store,
    /// answering the other members' questions about its actors' health from the start (<see cref="ClusterHealth"/>).
    /// A remoting port that is taken is a user error, checked before Akka tries it (Akka would log its failure first).
    /// </summary>
    public static ActorSystem CreateSystem(ClusterOptions options, Akka.Configuration.Config akka, History.RunStore store)
    {
        string host = akka.GetString("akka.remote.dot-netty.tcp.hostname", "127.0.0.1");
        int port = akka.GetInt("akka.remote.dot-netty.tcp.port", 0);
        if (port != 0) CheckFree(host, port);
        ActorSystem system;
        try { system = RunStoreSetup.CreateSystem(options.SystemName, akka, store); }
        catch (Exception e) when (InUse(e)) { throw PortInUse(host, port); }
        ClusterHealth.Get(system);
        return system;
    }

    private static void CheckFree(string host, int port)
    {
        var address = System.Net.IPAddress.TryParse(host, out var a) ? a : System.Net.IPAddress.Any;
        using var probe = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        // As Akka binds it (tcp-reuse-addr): a port with connections of a previous process still closing is free.
        if (!OperatingSystem.IsWindows()) probe.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        try { probe.Bind(new System.Net.IPEndPoint(address, port)); }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse) { throw PortInUse(host, port); }
    }

    private static bool InUse(Exception e) =>
        e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse }
        || (e.InnerException is { } inner && InUse(inner))
        || (e is AggregateException all && all.InnerExceptions.Any(InUse));

    private static UserError PortInUse(string host, int port) =>
        new($"akka.remote.dot-netty.tcp.port = {port} is in use on {host}. HINT: choose a free port for this member, or 0 for any (imagegpt train prints the one it got)");

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

    /// <summary>"host:port" of a member: what --seed takes, and the prefix of its trainers' names.</summary>
    public static string Endpoint(Akka.Actor.Address address) => $"{address.Host}:{address.Port}";

    /// <summary>"akka.tcp://system@host:port, roles aggregator, trainer, data".</summary>
    public static string Describe(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        return $"member {cluster.SelfAddress} (roles {string.Join(", ", cluster.SelfRoles.Order(StringComparer.Ordinal))})";
    }
}
