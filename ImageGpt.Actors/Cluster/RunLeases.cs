using System.Data.Common;
using ImageGpt.Actors.History;

namespace ImageGpt.Actors.Cluster;

/// <summary>
/// Leases in the run's database (table <c>run_lease</c>): a named lease has an owner, an expiry on the database's clock
/// (so that nodes with different clocks agree) and an epoch that grows each time the lease changes hands. The epoch is
/// the fence of the aggregator: a payload is committed only while the lease's epoch is the writer's
/// (<see cref="CheckpointBlobs"/>), so an aggregator that lost its lease can no longer publish a checkpoint.
/// </summary>
public sealed class RunLeases(RunStore store)
{
    /// <summary>Takes the lease for <paramref name="owner"/> (or extends it when it already holds it) when it is free or
    /// expired; returns the epoch it holds, or null when another owner holds it.</summary>
    public long? TryAcquire(string name, string owner, TimeSpan ttl)
    {
        using DbConnection c = store.Connect();
        using DbTransaction tx = c.BeginTransaction();
        using (DbCommand insert = RunStore.Command(c, tx,
            "INSERT INTO run_lease (name, owner, epoch, expires) VALUES (@name, '', 0, 0) ON CONFLICT (name) DO NOTHING"))
        {
            RunStore.Parameter(insert, "@name", name);
            insert.ExecuteNonQuery();
        }
        int taken;
        using (DbCommand update = RunStore.Command(c, tx,
            $"UPDATE run_lease SET epoch = CASE WHEN owner = @owner THEN epoch ELSE epoch + 1 END, owner = @owner, expires = {store.NowMsSql} + @ttl " +
            $"WHERE name = @name AND (owner = @owner OR owner = '' OR expires < {store.NowMsSql})"))
        {
            RunStore.Parameter(update, "@owner", owner);
            RunStore.Parameter(update, "@ttl", (long)ttl.TotalMilliseconds);
            RunStore.Parameter(update, "@name", name);
            taken = update.ExecuteNonQuery();
        }
        long? epoch = taken == 1 ? Epoch(c, tx, name) : null;
        tx.Commit();
        return epoch;
    }

    /// <summary>Extends a held lease; false when <paramref name="owner"/> no longer holds it (it expired and was taken).</summary>
    public bool Renew(string name, string owner, TimeSpan ttl)
    {
        using DbConnection c = store.Connect();
        using DbCommand update = RunStore.Command(c, null,
            $"UPDATE run_lease SET expires = {store.NowMsSql} + @ttl WHERE name = @name AND owner = @owner");
        RunStore.Parameter(update, "@ttl", (long)ttl.TotalMilliseconds);
        RunStore.Parameter(update, "@name", name);
        RunStore.Parameter(update, "@owner", owner);
        return update.ExecuteNonQuery() == 1;
    }

    /// <summary>Gives the lease up, so that another owner need not wait for it to expire.</summary>
    public bool Release(string name, string owner)
    {
        using DbConnection c = store.Connect();
        using DbCommand update = RunStore.Command(c, null, "UPDATE run_lease SET owner = '', expires = 0 WHERE name = @name AND owner = @owner");
        RunStore.Parameter(update, "@name", name);
        RunStore.Parameter(update, "@owner", owner);
        return update.ExecuteNonQuery() == 1;
    }

    /// <summary>The lease's owner ("" when free) and epoch; null when it was never taken.</summary>
    public (string Owner, long Epoch)? Read(string name)
    {
        using DbConnection c = store.Connect();
        using DbCommand select = RunStore.Command(c, null, "SELECT owner, epoch FROM run_lease WHERE name = @name");
        RunStore.Parameter(select, "@name", name);
        using DbDataReader r = select.ExecuteReader();
        return r.Read() ? (r.GetString(0), r.GetInt64(1)) : null;
    }

    private static long Epoch(DbConnection c, DbTransaction tx, string name)
    {
        using DbCommand select = RunStore.Command(c, tx, "SELECT epoch FROM run_lease WHERE name = @name");
        RunStore.Parameter(select, "@name", name);
        return Convert.ToInt64(select.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
