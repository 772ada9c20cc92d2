using System.Collections.Concurrent;
using Akka.Actor;
using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// The health of every member's actors, seen from this member. A <see cref="HealthRegistry"/> knows the actors of its own
/// process only, so each member answers <see cref="HealthQuery"/> with its snapshot (a few kB: well under Akka.Remote's
/// frame size), and a member that shows the whole cluster (the run's root writing status.json, a dashboard) asks every
/// other member once a second and keeps the latest answer of each. A member asks only while something reads here:
/// a cluster whose status nobody looks at exchanges no health messages, one that is watched O(members) a second.
/// Any member of the cluster may ask: health says nothing a member of the run's cluster could not learn otherwise.
/// </summary>
public sealed class ClusterHealth : IExtension
{
    /// <summary>Every member's answering and asking actor, /system/member-health.</summary>
    public const string ActorName = "member-health";

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    /// <summary>How long after the last read this member keeps asking the others.</summary>
    private static readonly TimeSpan ReadRecently = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, HealthSnapshot> _others = new(StringComparer.Ordinal);
    private readonly ExtendedActorSystem _system;
    private long _lastReadMs = long.MinValue / 2;

    public ClusterHealth(ExtendedActorSystem system)
    {
        _system = system;
        system.SystemActorOf(Props.Create(() => new Member(this)), ActorName);
    }

    public static ClusterHealth Get(ActorSystem system) => system.WithExtension<ClusterHealth, ClusterHealthProvider>();

    /// <summary>
    /// The actors of the member at <paramref name="address"/>: this process's now, another member's as it last answered
    /// (its <c>AtUtc</c> is when the answer arrived here), or null before its first answer.
    /// </summary>
    public HealthSnapshot? Of(string address)
    {
        Volatile.Write(ref _lastReadMs, Environment.TickCount64);
        return address == Akka.Cluster.Cluster.Get(_system).SelfAddress.ToString() ? HealthRegistry.Get(_system).Snapshot() : _others.GetValueOrDefault(address);
    }

    private bool ReadLately => Environment.TickCount64 - Volatile.Read(ref _lastReadMs) < ReadRecently.TotalMilliseconds;

    /// <summary>Failure messages are cut to this length in answers, so that one long message cannot make an answer too big to send.</summary>
    private const int MaxMessage = 500;

    private static HealthSnapshot ForTheWire(HealthSnapshot s) =>
        s with { Actors = s.Actors.Select(a => a.LastFailure is { Message.Length: > MaxMessage } f ? a with { LastFailure = f with { Message = f.Message[..MaxMessage] + "…" } } : a).ToList() };

    private sealed record Tick;

    /// <summary>Answers the others' questions, asks them while this member is read, keeps their answers.</summary>
    private sealed class Member : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public Member(ClusterHealth book)
        {
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            Receive<HealthQuery>(_ => Sender.Tell(new MemberHealthReport(ForTheWire(HealthRegistry.Get(Context.System).Snapshot())), Self));
            // Filed under the address the answer came from, so that no member can speak for another.
            Receive<MemberHealthReport>(m => book._others[Sender.Path.Address.ToString()] = m.Health with { AtUtc = DateTime.UtcNow });
            Receive<Tick>(_ =>
            {
                var members = cluster.State.Members.Select(m => m.Address).ToList();
                foreach (string gone in book._others.Keys.Where(k => !members.Any(m => m.ToString() == k)).ToList()) book._others.TryRemove(gone, out HealthSnapshot? _);
                if (!book.ReadLately) return;
                foreach (Address member in members.Where(m => m != cluster.SelfAddress))
                    Context.ActorSelection(new RootActorPath(member) / "system" / ActorName).Tell(HealthQuery.Instance, Self);
            });
        }

        protected override void PreStart() => Timers.StartPeriodicTimer("tick", new Tick(), Interval);
    }
}

public sealed class ClusterHealthProvider : ExtensionIdProvider<ClusterHealth>
{
    public override ClusterHealth CreateExtension(ExtendedActorSystem system) => new(system);
}
