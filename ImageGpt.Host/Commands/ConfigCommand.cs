using System.CommandLine;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Host;

/// <summary>
/// <c>imagegpt config [--config FILE] [--set path=value ...]</c>: prints the effective configuration as
/// JSON: hocon/reference.conf underneath FILE, the --set overrides on top, substitutions resolved; its akka section
/// is what Akka.NET gets (with the store and serializer settings a run derives).
/// </summary>
public static class ConfigCommand
{
    private static readonly Option<string?> ConfigPath = ConfigFile("reference.conf alone");
    private static readonly Option<string[]> Overrides = SetOption();

    /// <summary>--config for a command; <paramref name="whenAbsent"/> says what it reads without one.</summary>
    internal static Option<string?> ConfigFile(string whenAbsent) =>
        Cli.Optional("--config", $"the run's HOCON file, layered over hocon/reference.conf (default: {whenAbsent})", "FILE");

    internal static Option<string[]> SetOption() => Cli.Many("--set", "override one setting, e.g. --set train.steps=500", "path=value");

    public static Command Definition { get; } = Cli.Command("config", "print the effective configuration as JSON (reference.conf, the run's file, the --set overrides)", ConfigPath, Overrides);

    static ConfigCommand() => Definition.SetAction(r => Run(r, Console.Out));

    public static int Run(string[] rest, TextWriter output) => Run(Cli.Parse(Definition, rest), output);

    private static int Run(ParseResult args, TextWriter output)
    {
        Config config = Load(args.GetValue(ConfigPath), args.GetValue(Overrides) ?? []);
        output.WriteLine(config.ToJson(indented: true));
        return 0;
    }

    /// <summary>
    /// reference.conf, under the user's file, under the --set overrides; resolved once over the whole stack.
    /// A setting reference.conf does not list is a UserError naming it and the closest known key.
    /// </summary>
    public static Config Load(string? file, IReadOnlyList<string> sets)
    {
        Config reference = ConfigFactory.ParseFile(FindReference());
        Config config = RunConfigLoader.Layer(reference, file, sets).Resolve();
        RunConfigLoader.CheckKnownKeys(config, reference.Resolve());
        AkkaSettings.Validate(config);
        return config;
    }

    /// <summary>The copy next to the executable (the build puts it in hocon/), else the repository's hocon/ folder.</summary>
    public static string FindReference()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "hocon", "reference.conf");
        if (File.Exists(beside)) return beside;
        foreach (string start in (ReadOnlySpan<string>)[AppContext.BaseDirectory, Environment.CurrentDirectory])
        {
            for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "hocon", "reference.conf");
                if (File.Exists(candidate) && File.Exists(Path.Combine(d.FullName, "ImageGpt.sln"))) return candidate;
            }
        }
        throw new UserError($"hocon/reference.conf not found next to {AppContext.BaseDirectory} or in the repository. HINT: rebuild ImageGpt.Host, which copies hocon/*.conf to its output folder");
    }
}
