using System.CommandLine;
using System.Net;
using ImageGpt.Nn;

namespace ImageGpt.Host.Dashboard;

/// <summary>The dashboard's options on the command line: a port and the address to bind.</summary>
public static class DashboardOptions
{
    public const int DefaultPort = 8080;
    public const string DefaultBind = "127.0.0.1";

    /// <summary><c>--dashboard [PORT]</c>: absent means no dashboard, present without a value the default port; 0 picks a free port.</summary>
    public static Option<int?> PortOption(string name, string description) =>
        new(name) { Description = $"{description} (default: off; without a value port {DefaultPort}; 0 picks a free one)", HelpName = "PORT", Arity = ArgumentArity.ZeroOrOne };

    public static Option<string> BindOption(string name) =>
        Cli.Text(name, DefaultBind, "the address the dashboard listens on; any other than a loopback address requires the run's secret on every request", "ADDR");

    /// <summary>The port asked for, or null when the option is absent.</summary>
    public static int? Port(ParseResult args, Option<int?> option)
    {
        if (args.GetResult(option) is null) return null;
        int port = args.GetValue(option) ?? DefaultPort;
        if (port is < 0 or > 65535) throw new UserError($"{option.Name} {port} is not a port. HINT: a number in 1..65535, or 0 for any free port");
        return port;
    }

    /// <summary>The address to listen on.</summary>
    /// <exception cref="UserError">Not an IP address.</exception>
    public static IPAddress Address(string bind, string optionName) =>
        IPAddress.TryParse(bind, out IPAddress? address) ? address
            : throw new UserError($"{optionName} '{bind}' is not an IP address. HINT: 127.0.0.1 (the default, this machine only), 0.0.0.0 (every interface: requests then need the run's secret)");
}
