using System.CommandLine;
using System.Text.RegularExpressions;

namespace ImageGpt.Host.Tests;

/// <summary>The command line on System.CommandLine: help for every command with every option's default, --version, exit codes, one-line errors.</summary>
public sealed class CommandLineTests
{
    private static (int Exit, string Out, string Err) Run(params string[] argv)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.Run(argv, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    public static TheoryData<string> Commands() => [.. Program.Commands.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_commands_help_lists_every_option_with_its_default(string name)
    {
        var (exit, output, error) = Run(name, "--help");
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Command command = Program.Commands.Single(c => c.Name == name);
        Assert.NotEmpty(command.Options);
        foreach (Option option in command.Options)
        {
            string row = output.Split('\n').SingleOrDefault(l => Regex.IsMatch(l, $@"^\s+{Regex.Escape(option.Name)}( <|\s)")) ?? "";
            Assert.True(row.Contains("default", StringComparison.Ordinal) || row.Contains("(required)", StringComparison.Ordinal),
                $"imagegpt {name} --help: option {option.Name} has no default in its row '{row}'\n{output}");
        }
    }

    [Fact]
    public void Probe_help_is_help_not_a_missing_value()
    {
        var (exit, output, _) = Run("probe", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--batch <N>", output);
        Assert.Contains("[default: 64]", output);
        Assert.DoesNotContain("needs a value", output);
    }

    [Fact]
    public void The_top_level_help_lists_every_command()
    {
        foreach (string[] argv in (string[][])[["--help"], ["help"], ["-h"]])
        {
            var (exit, output, _) = Run(argv);
            Assert.Equal(0, exit);
            foreach (Command c in Program.Commands) Assert.Matches($@"\n\s+{Regex.Escape(c.Name)}\s", output);
        }
        var (bare, usage, _) = Run();
        Assert.Equal(2, bare);
        Assert.Contains("train", usage);
    }

    [Fact]
    public void Version_prints_the_assemblys_version()
    {
        var (exit, output, _) = Run("--version");
        Assert.Equal(0, exit);
        Assert.Matches(@"^\d+\.\d+\.\d+", output);
    }

    [Theory]
    [InlineData(new[] { "bogus" }, "imagegpt: error: unknown command 'bogus'. HINT: run 'imagegpt help' for the list")]
    [InlineData(new[] { "--bogus" }, "imagegpt: error: unknown option '--bogus'. HINT: see 'imagegpt --help'")]
    [InlineData(new[] { "probe", "--bogus", "1" }, "imagegpt probe: error: Unrecognized command or argument '--bogus'. HINT: see 'imagegpt probe --help'")]
    [InlineData(new[] { "bench", "--batch", "many" }, "imagegpt bench: error: Cannot parse argument 'many' for option '--batch' as expected type 'System.Int32'. HINT: see 'imagegpt bench --help'")]
    [InlineData(new[] { "train", "--run-dir" }, "imagegpt train: error: Required argument missing for option: '--run-dir'. HINT: see 'imagegpt train --help'")]
    [InlineData(new[] { "train", "--dashboard", "70000" }, "imagegpt train: error: --dashboard 70000 is not a port. HINT: a number in 1..65535, or 0 for any free port")]
    [InlineData(new[] { "node", "--dashboard", "70000" }, "imagegpt node: error: --dashboard 70000 is not a port. HINT: a number in 1..65535, or 0 for any free port")]
    [InlineData(new[] { "node", "--dashboard", "0", "--dashboard-bind", "everywhere" }, "imagegpt node: error: --dashboard-bind 'everywhere' is not an IP address. HINT: 127.0.0.1 (the default, this machine only), 0.0.0.0 (every interface: requests then need the run's secret)")]
    [InlineData(new[] { "dashboard", "--bind", "everywhere" }, "imagegpt dashboard: error: --bind 'everywhere' is not an IP address. HINT: 127.0.0.1 (the default, this machine only), 0.0.0.0 (every interface: requests then need the run's secret)")]
    [InlineData(new[] { "probe", "--palette", "p.json" }, "imagegpt probe: error: --weights is required. HINT: imagegpt probe --weights W.safetensors --palette P.json")]
    public void A_mistake_is_one_line_on_stderr_and_exit_code_2(string[] argv, string expected)
    {
        var (exit, output, error) = Run(argv);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Equal(expected, error.TrimEnd('\n'));
    }
}
