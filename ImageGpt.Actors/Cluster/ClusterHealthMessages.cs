using ImageGpt.Actors.Health;

namespace ImageGpt.Actors.Cluster;

// Between the members' /system/member-health actors (ClusterHealth): small messages, safe to cross machines.

/// <summary>Member → member: what is the health of your actors?</summary>
public sealed record HealthQuery
{
    public static readonly HealthQuery Instance = new();
}

/// <summary>The answer: the health of every monitored actor of the answering member's process.</summary>
public sealed record MemberHealthReport(HealthSnapshot Health);
