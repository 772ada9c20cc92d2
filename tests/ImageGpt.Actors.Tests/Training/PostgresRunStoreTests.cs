using System.Data.Common;
using ImageGpt.Actors.Tests.Postgres;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;
using Npgsql;

namespace ImageGpt.Actors.Tests.Training;

/// <summary>A fresh database per test on the shared throwaway server (the run store's tables have no run key, so
/// tests cannot share one), dropped afterwards.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresRunStoreTests(PostgresServer server) : RunStoreContract
{
    private readonly string _database = $"runstore_{Guid.NewGuid():N}";

    private string Admin => new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString;
    private string Connection => new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = _database }.ConnectionString;

    protected override (string Provider, string Target) Child => ("postgres", Connection);

    protected override async Task<DbConnection> OpenRawAsync()
    {
        var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Connection) { Pooling = false }.ConnectionString);
        await c.OpenAsync();
        return c;
    }

    public override async Task InitializeAsync()
    {
        await AdminAsync($"CREATE DATABASE {_database}");
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await AdminAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }

    private async Task AdminAsync(string sql)
    {
        await using var c = new NpgsqlConnection(Admin);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    protected override async Task AssertStoreIntactAsync()
    {
        // The killed child's backend must be gone and its transaction rolled back, not left idle in transaction.
        await using DbConnection c = await OpenRawAsync();
        await using DbCommand cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
        for (int i = 0; i < 100 && (long)(await cmd.ExecuteScalarAsync())! != 0; i++) await Task.Delay(100);
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public void A_server_that_cannot_be_reached_is_a_user_error_naming_host_and_port_but_not_the_password()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var settings = Settings with { Postgres = $"Host=127.0.0.1;Port={port};Username=u;Password=s3cret-pw;Database=d;Timeout=3" };

        var e = Assert.Throws<UserError>(() => SqlRunStore.Open(settings, RunDir));

        Assert.Contains($"127.0.0.1:{port}/d", e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain("s3cret-pw", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_malformed_connection_string_is_a_user_error()
    {
        var e = Assert.Throws<UserError>(() => SqlRunStore.Open(Settings with { Postgres = "Hoast=x;=;" }, RunDir));
        Assert.Contains("checkpoint.postgres", e.Message);
        Assert.Contains("HINT", e.Message);
    }
}
