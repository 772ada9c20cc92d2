using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using ImageGpt.Actors.History;
using ImageGpt.Actors.Training;
using ImageGpt.Nn;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The operator's dashboard on ASP.NET Core (Kestrel, minimal APIs): the page (embedded HTML, JS, CSS), JSON under /api for
/// everything it shows, server-rendered SVG charts, the run's completions PNGs and safetensors, /health/live and
/// /health/ready. It only reads snapshots from an <see cref="IRunSource"/>; the page polls once a second.
/// </summary>
public sealed partial class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>Where it listens (with the port Kestrel chose when asked for 0).</summary>
    public Uri Url { get; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <param name="secret">required when <paramref name="bind"/> is not a loopback address</param>
    /// <exception cref="UserError">The port is taken or the address cannot be bound.</exception>
    public static async Task<DashboardServer> StartAsync(IRunSource source, IPAddress bind, int port, string? secret)
    {
        bool tokenRequired = TokenCheck.Required(bind);
        if (tokenRequired && string.IsNullOrEmpty(secret))
            throw new ArgumentException($"a dashboard on {bind} needs the run's secret", nameof(secret));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(bind, port));
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        WebApplication app = builder.Build();
        if (tokenRequired) app.Use(new TokenCheck(secret!).InvokeAsync);
        Map(app, source);
        try { await app.StartAsync().ConfigureAwait(false); }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new UserError($"the dashboard cannot listen on {bind}:{port}: {e.Message}. HINT: pick another port (0 takes any free one) or address");
        }
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardServer(app, new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal) + "/"));
    }

    private static void Map(WebApplication app, IRunSource source)
    {
        app.MapGet("/", () => Asset("index.html"));
        app.MapGet("/{name}", (string name) => name.EndsWith(".html", StringComparison.Ordinal) ? Results.NotFound() : Asset(name));

        app.MapGet("/health/live", () => Results.Json(new HealthReply("live", null), Json));
        app.MapGet("/health/ready", () => source.NotReady() is { } why
            ? Results.Json(new HealthReply("not ready", why), Json, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new HealthReply("ready", null), Json));

        app.MapGet("/api/run", async (CancellationToken ct) => Results.Json(source.Progress(await TryHistory(source, ct)), Json));
        app.MapGet("/api/loss", async (CancellationToken ct) =>
        {
            var history = await TryHistory(source, ct);
            var validation = history?.Evaluations.Where(e => double.IsFinite(e.ValidationNats)).Select(e => new LossPoint(e.Step, e.ValidationNats)).ToList() ?? [];
            return Results.Json(new LossCurves(RunCharts.Thin(source.TrainingLoss(), 1000), validation), Json);
        });
        app.MapGet("/api/cluster", () => Results.Json(source.Cluster(), Json));
        app.MapGet("/api/evaluations", (CancellationToken ct) =>
            WithHistory(source, ct, h => Results.Json(h.Evaluations.Select(e => View(e, source.RunDir)).ToList(), Json)));
        app.MapGet("/api/checkpoints", (CancellationToken ct) =>
            WithHistory(source, ct, h => Results.Json(h.Checkpoints.Select(c => View(c, source.RunDir)).ToList(), Json)));

        app.MapGet("/charts/loss.svg", async (CancellationToken ct) =>
            Svg(RunCharts.Loss(source.TrainingLoss(), (await TryHistory(source, ct))?.Evaluations ?? [])));
        app.MapGet("/charts/probe.svg", (CancellationToken ct) => WithHistory(source, ct, h => Svg(RunCharts.Probe(h.Evaluations))));
        app.MapGet("/charts/validation-vs-probe.svg", (CancellationToken ct) => WithHistory(source, ct, h => Svg(RunCharts.ValidationVsProbe(h.Evaluations))));

        app.MapGet("/files/{name}", (string name) =>
        {
            if (source.RunDir is not { } dir || !RunFileName().IsMatch(name)) return Results.NotFound();
            string path = Path.Combine(dir, name);
            if (!File.Exists(path)) return Results.NotFound();
            return Results.File(Path.GetFullPath(path), name.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "application/octet-stream",
                name.EndsWith(".png", StringComparison.Ordinal) ? null : name);
        });
    }

    /// <summary>The only files of the run directory the dashboard serves.</summary>
    [GeneratedRegex(@"^(completions-step-\d+\.png|step-\d+\.safetensors)$")]
    private static partial Regex RunFileName();

    private static async Task<RunHistory?> TryHistory(IRunSource source, CancellationToken ct)
    {
        try { return await source.HistoryAsync(ct).ConfigureAwait(false); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>The history's answer, or 503 with the reason when the store cannot be read.</summary>
    private static async Task<IResult> WithHistory(IRunSource source, CancellationToken ct, Func<RunHistory, IResult> answer) =>
        await TryHistory(source, ct).ConfigureAwait(false) is { } history ? answer(history)
            : Results.Json(new HealthReply("unavailable", source.NotReady()), Json, statusCode: StatusCodes.Status503ServiceUnavailable);

    private static IResult Asset(string name) => EmbeddedAssets.Find(name) is { } a
        ? Results.Bytes(a.Bytes, a.ContentType, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue(a.ETag))
        : Results.NotFound();

    private static IResult Svg(string svg) => Results.Text(svg, "image/svg+xml; charset=utf-8");

    private static EvaluationView View(EvaluationRecorded e, string? runDir)
    {
        static ProbeView Row(ProbeRow r) => new(r.Layer, r.BestC, r.ValidationAccuracy, r.TestAccuracy);
        string png = $"completions-step-{e.Step}.png";
        string? completions = runDir is not null && e.CompletionsPng is not null && File.Exists(Path.Combine(runDir, png)) ? $"/files/{png}" : null;
        return new EvaluationView(e.Step, e.At, e.Seconds, ProgressReading.Finite(e.ValidationNats), ProgressReading.Finite(e.ValidationBits),
            e.Probe.Select(Row).ToList(), e.RawPixels is { } raw ? Row(raw) : null, completions, e.Skipped);
    }

    private static CheckpointView View(CheckpointCommitted c, string? runDir)
    {
        string? weights = runDir is not null && File.Exists(CheckpointWriter.WeightsPath(runDir, c.Step)) ? $"/files/{Path.GetFileName(CheckpointWriter.WeightsPath(runDir, c.Step))}" : null;
        return new CheckpointView(c.Step, c.Epoch, c.At, c.Bytes, c.Sha256, c.Seconds, weights);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
