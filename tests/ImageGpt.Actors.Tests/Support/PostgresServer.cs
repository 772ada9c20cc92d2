using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace ImageGpt.Actors.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL 15 server for the tests: initdb in a fresh temp folder owned by the postgres user,
/// started on a free loopback port, one database, stopped and deleted at the end. PostgreSQL refuses to run
/// as root, so when the tests run as root every server binary runs through <c>runuser -u postgres</c>. Missing binaries
/// fail the tests (never skip them) with the package to install.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string DefaultBinDir = "/usr/lib/postgresql/15/bin";
    private const string Database = "imagegpt";

    private string? _dir;
    private int _postmasterPid;

    public string ConnectionString { get; private set; } = "";
    public int Port { get; private set; }
    private string BinDir { get; } = Environment.GetEnvironmentVariable("IMAGEGPT_PG_BIN") ?? DefaultBinDir;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Path.Combine(BinDir, "initdb")) || !File.Exists(Path.Combine(BinDir, "pg_ctl")))
            throw new InvalidOperationException(
                $"PostgreSQL 15 server binaries not found in {BinDir}; the PostgreSQL tests start their own server. " +
                "HINT: apt-get install postgresql-15 (or set IMAGEGPT_PG_BIN to the folder holding initdb and pg_ctl)");
        _dir = Directory.CreateTempSubdirectory("imagegpt-pg-").FullName;
        if (IsRoot) Run("chown", ["postgres:postgres", _dir]);
        string data = Path.Combine(_dir, "data");
        AsPostgres("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);

        // A port picked by binding port 0 can be taken by someone else before the server binds it; try again.
        for (int attempt = 1; ; attempt++)
        {
            Port = FreePort();
            int rc = AsPostgres("pg_ctl", ["-D", data, "-w", "-t", "60", "-l", Path.Combine(_dir, "server.log"), "-o",
                $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start"], throwOnError: attempt == 3);
            if (rc == 0) break;
        }
        _postmasterPid = int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();

        string admin = $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";
        await using (var c = new NpgsqlConnection(admin))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {Database}", c);
            await cmd.ExecuteNonQueryAsync();
        }
        ConnectionString = $"Host=127.0.0.1;Port={Port};Username=postgres;Database={Database};Maximum Pool Size=50";
    }

    public Task DisposeAsync()
    {
        Stop();
        return Task.CompletedTask;
    }

    private void Stop()
    {
        if (_dir is null) return;
        string dir = _dir;
        _dir = null;
        NpgsqlConnection.ClearAllPools();
        AsPostgres("pg_ctl", ["-D", Path.Combine(dir, "data"), "-m", "immediate", "-w", "-t", "10", "stop"], throwOnError: false);
        if (_postmasterPid > 0)
        {
            try
            {
                using var p = Process.GetProcessById(_postmasterPid);
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
            catch (ArgumentException) { /* already gone: the normal case after pg_ctl stop */ }
            catch (InvalidOperationException) { /* exited between lookup and kill */ }
        }
        Directory.Delete(dir, recursive: true);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    // PostgreSQL refuses to run as root; as any other user it runs directly.
    private static bool IsRoot => Environment.UserName == "root";

    private int AsPostgres(string tool, IEnumerable<string> args, bool throwOnError = true) => IsRoot
        ? Run("runuser", ["-u", "postgres", "--", Path.Combine(BinDir, tool), .. args], throwOnError)
        : Run(Path.Combine(BinDir, tool), args, throwOnError);

    private static int Run(string file, IEnumerable<string> args, bool throwOnError = true)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish in 120 s");
        }
        if (p.ExitCode != 0 && throwOnError)
            throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return p.ExitCode;
    }
}

/// <summary>All PostgreSQL test classes share one server.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
