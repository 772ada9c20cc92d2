using System.Net;
using System.Net.Http.Headers;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Configuration;
using Microsoft.Data.Sqlite;

namespace ImageGpt.Host.Tests.Dashboard;

/// <summary>
/// A dashboard bound beyond the loopback interface (0.0.0.0 here, reached through 127.0.0.1) asks for the run's secret on
/// every request but the health probes, says so when it starts, and compares the token in constant time.
/// </summary>
public sealed class TokenCheckTests : IAsyncLifetime
{
    private const string Secret = "0123456789abcdef0123456789abcdef";
    private readonly string _dir = Path.Combine(Directory.CreateTempSubdirectory("dash-token-").FullName, "tokened");
    private DashboardHost? _host;
    private HttpClient? _http;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await RunFiles.RecordAsync(_dir, "tokened", new RunStarted("tokened", "{}", "[]", 10, DateTimeOffset.UnixEpoch));
        File.WriteAllText(Path.Combine(_dir, RunSecret.FileName), Secret);
        _host = await DashboardHost.StartAsync(["--run-dir", _dir, "--port", "0", "--bind", "0.0.0.0"]);
        _http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{_host.Http.BaseAddress!.Port}/"), Timeout = RunFiles.Patience,
        };
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_host is not null) await _host.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);
    }

    private async Task<HttpResponseMessage> Get(string path, Action<HttpRequestMessage>? with = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        with?.Invoke(request);
        return await _http!.SendAsync(request);
    }

    [Fact]
    public void Starting_beyond_loopback_says_that_requests_need_the_runs_secret_without_printing_it()
    {
        string output = _host!.Output.ToString();
        Assert.Contains("every request needs the run's secret", output);
        Assert.DoesNotContain(Secret, output);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/api/run")]
    [InlineData("/api/checkpoints")]
    [InlineData("/charts/loss.svg")]
    [InlineData("/app.js")]
    public async Task Without_the_secret_every_page_and_api_answers_401(string path)
    {
        using var response = await Get(path);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("?token=SECRET", await response.Content.ReadAsStringAsync());
        using var wrong = await Get(path, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret[..^1] + "0"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using var prefix = await Get(path, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret[..8]));
        Assert.Equal(HttpStatusCode.Unauthorized, prefix.StatusCode);
    }

    [Fact]
    public async Task A_bearer_token_is_accepted()
    {
        using var response = await Get("/api/run", r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"runId\":\"tokened\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_token_in_the_address_becomes_a_strict_http_only_cookie_and_the_cookie_opens_the_page()
    {
        using var redirect = await Get($"/?token={Secret}");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/", redirect.Headers.Location!.ToString());
        string cookie = Assert.Single(redirect.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"imagegpt_token={Secret};", cookie);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        using var page = await Get("/", r => r.Headers.Add("Cookie", $"imagegpt_token={Secret}"));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using var wrong = await Get("/?token=nope");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task The_health_probes_need_no_secret()
    {
        using var live = await Get("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await Get("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
