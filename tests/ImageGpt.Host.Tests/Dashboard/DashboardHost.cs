using ImageGpt.Host.Commands;

namespace ImageGpt.Host.Tests.Dashboard;

/// <summary>`imagegpt dashboard` running in this process until disposed, and a client for it.</summary>
internal sealed class DashboardHost : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<int> _command;

    private DashboardHost(Task<int> command, Uri url, StringWriter output)
    {
        _command = command;
        Output = output;
        Http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = url, Timeout = RunFiles.Patience };
    }

    public HttpClient Http { get; }
    public StringWriter Output { get; }

    public static async Task<DashboardHost> StartAsync(string[] args)
    {
        var output = new StringWriter();
        var started = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var stop = new CancellationTokenSource();
        var command = Task.Run(() => DashboardCommand.RunAsync(args, output, stop.Token, url => started.TrySetResult(url)));
        var first = await Task.WhenAny(started.Task, command).WaitAsync(RunFiles.Patience);
        if (first == command) await command; // throws what the command threw
        var host = new DashboardHost(command, await started.Task, output);
        host._stop.Token.Register(stop.Cancel);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _stop.CancelAsync();
        Assert.Equal(0, await _command.WaitAsync(RunFiles.Patience));
        _stop.Dispose();
    }
}
