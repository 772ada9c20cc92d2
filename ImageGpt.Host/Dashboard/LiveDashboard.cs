using System.CommandLine;
using System.Net;
using Akka.Actor;
using ImageGpt.Actors.Configuration;
using ImageGpt.Host.Commands;

namespace ImageGpt.Host.Dashboard;

/// <summary>
/// The dashboard a run's own process serves (<c>imagegpt train --dashboard</c>, <c>imagegpt node --dashboard</c>): the same
/// options, the same binding rule (127.0.0.1 unless <c>--dashboard-bind</c> says otherwise, and then the run's secret on
/// every request, said at start), the same one-line errors.
/// </summary>
public static class LiveDashboard
{
    /// <summary>Where to serve it.</summary>
    public sealed record Request(int Port, IPAddress Bind);

    public static Option<int?> PortOption() => DashboardOptions.PortOption("--dashboard", "serve the live dashboard of the run on this port");

    public static Option<string> BindOption() => DashboardOptions.BindOption("--dashboard-bind");

    /// <summary>The request on the command line, or null without <c>--dashboard</c>.</summary>
    /// <exception cref="Nn.UserError">A bad port or address.</exception>
    public static Request? Parse(ParseResult args, Option<int?> port, Option<string> bind) =>
        DashboardOptions.Port(args, port) is { } p ? new Request(p, DashboardOptions.Address(args.GetValue(bind)!, bind.Name)) : null;

    /// <summary>Starts it (null without a request) and prints where it listens.</summary>
    /// <exception cref="Nn.UserError">The port is taken or the address cannot be bound.</exception>
    public static async Task<DashboardServer?> StartAsync(Request? request, ActorSystem system, RunConfig config, RunFeed feed, TextWriter output)
    {
        if (request is null) return null;
        bool token = TokenCheck.Required(request.Bind);
        var server = await DashboardServer.StartAsync(new LiveRunSource(system, config, feed), request.Bind, request.Port, token ? RunSecret.Resolve(config) : null);
        output.WriteLine($"dashboard: {server.Url}");
        if (token) output.WriteLine(DashboardCommand.Announce(request.Bind));
        return server;
    }
}
