using System.CommandLine;
using System.CommandLine.Parsing;
using ImageGpt.Nn;

namespace ImageGpt.Host;

/// <summary>
/// The command line on System.CommandLine: each command declares its options once, with a description and a
/// default that <c>--help</c> shows; <see cref="Parse"/> turns the first parse error into a one-line
/// <see cref="UserError"/> (exit code 2) instead of System.CommandLine's error-plus-help page.
/// </summary>
public static class Cli
{
    /// <summary>Parses <paramref name="argv"/> (the command's own arguments, without its name) against <paramref name="command"/>.</summary>
    /// <exception cref="UserError">An unknown option, a missing or malformed value.</exception>
    public static ParseResult Parse(Command command, IReadOnlyList<string> argv)
    {
        ParseResult result = command.Parse(argv);
        if (result.Errors.Count > 0) throw Error(result, command.Name);
        return result;
    }

    /// <summary>The first of the parse's errors, on one line, with where to read the options.</summary>
    public static UserError Error(ParseResult result, string command) =>
        new($"{result.Errors[0].Message.ReplaceLineEndings(" ").TrimEnd('.')}. HINT: see 'imagegpt {command} --help'");

    /// <summary>The arguments as given after the command's name (for "resume with: ..." lines).</summary>
    public static string[] Arguments(ParseResult result) =>
        result.Tokens.Where(t => t.Type is not (TokenType.Command or TokenType.Directive)).Select(t => t.Value).ToArray();

    public static Command Command(string name, string description, params Option[] options)
    {
        var command = new Command(name, description);
        foreach (Option o in options) command.Options.Add(o);
        return command;
    }

    public static Option<int> Int(string name, int value, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => value, HelpName = "N" };

    public static Option<ulong> Seed(string name, ulong value, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => value, HelpName = "S" };

    public static Option<double> Number(string name, double value, string description) =>
        new(name) { Description = description, DefaultValueFactory = _ => value, HelpName = "X" };

    public static Option<string> Text(string name, string value, string description, string helpName) =>
        new(name) { Description = description, DefaultValueFactory = _ => value, HelpName = helpName };

    /// <summary>An option without a fixed default: <paramref name="description"/> says what leaving it out means.</summary>
    public static Option<string?> Optional(string name, string description, string helpName) =>
        new(name) { Description = description, HelpName = helpName };

    /// <summary>An optional count whose absence means "all" (described in <paramref name="description"/>).</summary>
    public static Option<int?> OptionalInt(string name, string description) =>
        new(name) { Description = description, HelpName = "N" };

    /// <summary>An optional number whose absence <paramref name="description"/> explains (a default measured at run time).</summary>
    public static Option<double?> OptionalNumber(string name, string description) =>
        new(name) { Description = description, HelpName = "X" };

    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = $"{description} (default: off)", Arity = ArgumentArity.Zero };

    /// <summary>Repeatable: <c>--set a=1 --set b=2</c>.</summary>
    public static Option<string[]> Many(string name, string description, string helpName) =>
        new(name) { Description = $"{description} (repeatable; default: none)", HelpName = helpName, AllowMultipleArgumentsPerToken = false };
}
