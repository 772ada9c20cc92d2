using ImageGpt.Nn;

namespace ImageGpt.Host;

/// <summary>Command-line options of the form <c>--name value</c>, <c>--flag</c> and repeatable <c>--set k=v</c>.</summary>
public sealed class Args
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public string Command { get; }

    private Args(string command) => Command = command;

    /// <param name="flagNames">options that take no value</param>
    public static Args Parse(string command, IReadOnlyList<string> argv, IReadOnlySet<string> flagNames)
    {
        var a = new Args(command);
        for (int i = 0; i < argv.Count; i++)
        {
            string arg = argv[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new UserError($"unexpected argument '{arg}' for 'imagegpt {command}'. HINT: options look like --name value; see 'imagegpt help'");
            string name = arg[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq > 0 && name != "set") { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (flagNames.Contains(name)) { a._flags.Add(name); continue; }
            string value = inline ?? (i + 1 < argv.Count ? argv[++i] : throw new UserError($"option --{name} needs a value"));
            if (!a._values.TryGetValue(name, out var list)) a._values[name] = list = [];
            list.Add(value);
        }
        return a;
    }

    public bool Flag(string name) { _used.Add(name); return _flags.Contains(name); }

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var l) ? l[^1] : null;
    }

    public IReadOnlyList<string> All(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var l) ? l : [];
    }

    public int Int(string name, int fallback)
    {
        string? s = String(name);
        if (s is null) return fallback;
        return int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v : throw new UserError($"--{name} '{s}' is not an integer");
    }

    public double Double(string name, double fallback)
    {
        string? s = String(name);
        if (s is null) return fallback;
        return double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v)
            ? v : throw new UserError($"--{name} '{s}' is not a number");
    }

    /// <summary>Call after reading every option: an option nobody read is a typo.</summary>
    public void RejectUnknown()
    {
        foreach (string name in _values.Keys.Concat(_flags))
            if (!_used.Contains(name))
                throw new UserError($"unknown option --{name} for 'imagegpt {Command}'. HINT: see 'imagegpt help'");
    }
}
