using Akka.Actor;
using Akka.Coordination;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// An Akka.Coordination lease held in the run's database (<see cref="RunLeases"/>): the cluster singleton's lease (only
/// the holder runs the aggregator) and the split-brain resolver's (lease-majority: the side that takes it survives a
/// partition, and a lone survivor always can). Expiry is heartbeat-timeout on the database's clock; the holder renews
/// every heartbeat-interval and tells its user when a renewal finds the lease gone.
/// </summary>
public sealed class SqlLease : Lease
{
    private readonly RunLeases _leases;
    private readonly IScheduler _scheduler;
    private readonly Lock _lock = new();
    private ICancelable? _heartbeat;
    private volatile bool _held;

    public SqlLease(LeaseSettings settings, ActorSystem system) : base(settings)
    {
        _leases = new RunLeases(RunStoreSetup.Of(system));
        _scheduler = system.Scheduler;
    }

    private TimeSpan Ttl => Settings.TimeoutSettings.HeartbeatTimeout;

    /// <summary>The epoch of the lease while this owner holds it.</summary>
    public long? Epoch { get; private set; }

    public override Task<bool> Acquire() => Acquire(null!);

    public override Task<bool> Acquire(Action<Exception> leaseLostCallback) => Task.Run(() =>
    {
        long? epoch = _leases.TryAcquire(Settings.LeaseName, Settings.OwnerName, Ttl);
        lock (_lock)
        {
            Epoch = epoch;
            _held = epoch is not null;
            _heartbeat?.Cancel();
            _heartbeat = _held
                ? _scheduler.Advanced.ScheduleRepeatedlyCancelable(Settings.TimeoutSettings.HeartbeatInterval, Settings.TimeoutSettings.HeartbeatInterval, () => Renew(leaseLostCallback))
                : null;
        }
        return _held;
    });

    private void Renew(Action<Exception>? lost)
    {
        bool still;
        try { still = _leases.Renew(Settings.LeaseName, Settings.OwnerName, Ttl); }
        catch (Exception e) when (e is System.Data.Common.DbException or TimeoutException)
        {
            // A database that does not answer cannot confirm the lease; it expires on its own if this lasts.
            return;
        }
        if (still) return;
        lock (_lock)
        {
            _held = false;
            _heartbeat?.Cancel();
            _heartbeat = null;
        }
        lost?.Invoke(new LeaseException($"lease {Settings.LeaseName} of {Settings.OwnerName} expired and was taken"));
    }

    public override Task<bool> Release() => Task.Run(() =>
    {
        lock (_lock)
        {
            _heartbeat?.Cancel();
            _heartbeat = null;
            _held = false;
        }
        return _leases.Release(Settings.LeaseName, Settings.OwnerName);
    });

    public override bool CheckLease() => _held;
}
