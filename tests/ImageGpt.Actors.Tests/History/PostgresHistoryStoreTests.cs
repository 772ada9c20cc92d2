using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn;
using Npgsql;

namespace ImageGpt.Actors.Tests.History;

/// <summary>A fresh database per test on the throwaway server, dropped afterwards.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresHistoryStoreTests(PostgresServer server) : HistoryStoreContract
{
    private readonly string _database = $"store_{Guid.NewGuid():N}";
    private string ConnectionString => new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = _database }.ConnectionString;

    protected override (string Provider, string Target) Child => ("postgres", ConnectionString);

    protected override async Task<DbConnection> OpenRawAsync()
    {
        var c = new NpgsqlConnection(ConnectionString);
        await c.OpenAsync();
        return c;
    }

    public override async Task InitializeAsync()
    {
        await using var c = new NpgsqlConnection(server.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE {_database}", c);
        await cmd.ExecuteNonQueryAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var c = new NpgsqlConnection(server.ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)", c);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public void An_unreachable_server_is_a_one_line_user_error_without_the_password()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var settings = new CheckpointSettings(1, 0, "postgres", $"Host=127.0.0.1;Port={port};Username=u;Password=secret-pw;Database=d;Timeout=3", false);

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<UserError>(() => RunStore.Open(settings, Path.GetTempPath()));

        Assert.Contains($"postgres://127.0.0.1:{port}/d", e.Message);
        Assert.Contains("HINT", e.Message);
        Assert.DoesNotContain("secret-pw", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(clock.Elapsed < TestRuns.Patience);
    }

    [Fact]
    public void A_connection_string_that_is_not_one_is_a_user_error()
    {
        var e = Assert.Throws<UserError>(() => RunStore.Open(new CheckpointSettings(1, 0, "postgres", "Hostt=x;;=", false), Path.GetTempPath()));
        Assert.Contains("checkpoint.postgres", e.Message);
        Assert.Contains("HINT", e.Message);
    }
}
