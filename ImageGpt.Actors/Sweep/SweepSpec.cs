using System.Globalization;
using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Sweep;

/// <summary>
/// What a sweep varies: the one --set whose value is a list, <c>key=[a,b,c]</c>, of a numeric setting. Each value is
/// kept as written (it names the value's run and folder), in the order given.
/// </summary>
/// <param name="SetIndex">Which of the --set overrides is the list (each value's run replaces it with <c>key=value</c>).</param>
public sealed record SweepSpec(string Key, IReadOnlyList<string> Values, int SetIndex)
{
    private const string Example = "e.g. --set train.lr=[0.01,0.003,0.001,0.0003]";

    /// <summary>
    /// Finds the swept setting among <paramref name="sets"/> (path=value texts). A list given to a setting that is a list
    /// in <paramref name="reference"/> (resolved; e.g. eval.probe.grid) is an ordinary override, not a sweep. A key that
    /// reference.conf does not know is left to the config loader, which names it and the closest known key.
    /// </summary>
    /// <exception cref="UserError">No list, two lists, a value that is not a list of distinct numbers, an empty list, a setting that is not a number.</exception>
    public static SweepSpec Find(IReadOnlyList<string> sets, Config reference)
    {
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentNullException.ThrowIfNull(reference);
        var lists = new List<int>();
        for (int i = 0; i < sets.Count; i++)
        {
            int eq = sets[i].IndexOf('=');
            if (eq <= 0) continue;
            string key = sets[i][..eq].Trim(), value = sets[i][(eq + 1)..].Trim();
            bool listSetting = reference.HasPath(key) && reference.GetValue(key) is HoconArray;
            if ((value.StartsWith('[') || value.EndsWith(']')) && !listSetting) lists.Add(i);
        }
        if (lists.Count == 0)
            throw new UserError($"no --set gives a list of values to sweep. HINT: sweep one numeric setting, {Example}");
        if (lists.Count > 1)
            throw new UserError($"--set '{sets[lists[0]]}' and --set '{sets[lists[1]]}' both give lists; a sweep varies one setting at a time. HINT: sweep one of them and fix the other with a plain --set");
        return Parse(sets[lists[0]], lists[0], reference);
    }

    private static SweepSpec Parse(string set, int index, Config reference)
    {
        int eq = set.IndexOf('=');
        string key = set[..eq].Trim(), text = set[(eq + 1)..].Trim();
        if (reference.HasPath(key) && reference.GetValue(key) is not HoconScalar { Kind: HoconScalarKind.Number })
            throw new UserError($"--set '{set}': '{key}' is {reference.GetValue(key).KindName} in hocon/reference.conf, not a number; a sweep varies a numeric setting. HINT: {Example}");
        if (!text.StartsWith('[') || !text.EndsWith(']') || text.Length < 2)
            throw new UserError($"--set '{set}' is not a list [a,b,...]. HINT: write the values in brackets, separated by commas, {Example}");
        string inner = text[1..^1].Trim();
        if (inner.Length == 0)
            throw new UserError($"--set '{set}' is an empty list: nothing to sweep. HINT: give at least one value, {Example}");
        var values = inner.Split(',').Select(v => v.Trim()).ToList();
        var seen = new Dictionary<double, string>();
        foreach (string v in values)
        {
            if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.IsFinite(x))
                throw new UserError($"'{v}' in --set '{set}' is not a number. HINT: write numbers separated by commas, {Example}");
            if (seen.TryGetValue(x, out string? before))
                throw new UserError($"--set '{set}' gives the value {v} twice ({before} and {v}). HINT: list each value once");
            seen[x] = v;
        }
        return new SweepSpec(key, values, index);
    }

    /// <summary>Value <paramref name="i"/>'s folder in the sweep's directory, and the suffix of its run id: "lr-0.003".</summary>
    public string Name(int i) => NameOf(Key, Values[i]);

    /// <summary>The last element of the key ("lr" for train.lr), a dash and the value as written.</summary>
    public static string NameOf(string key, string value) => $"{key[(key.LastIndexOf('.') + 1)..]}-{value}";

    /// <summary>The --set overrides of value <paramref name="i"/>'s run: the list replaced by <c>key=value</c>.</summary>
    public IReadOnlyList<string> SetsFor(IReadOnlyList<string> sets, int i)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var copy = sets.ToList();
        copy[SetIndex] = $"{Key}={Values[i]}";
        return copy;
    }
}
