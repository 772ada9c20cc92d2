using System.Globalization;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// An immutable HOCON configuration, modelled on Akka's <c>Config</c>. Layering (<see cref="WithFallback"/>,
/// <see cref="WithValue"/>) works on the unresolved trees; substitutions are resolved once, over the
/// final layering, the first time a value is read (or by <see cref="Resolve"/>).
/// </summary>
public sealed class Config
{
    private readonly HoconObject _raw;
    private HoconObject? _resolved;

    internal Config(HoconObject raw, string description, bool resolved = false)
    {
        _raw = raw;
        Description = description;
        if (resolved) _resolved = raw;
    }

    /// <summary>Where this config came from, e.g. "train.conf, falling back to reference.conf"; used in error messages.</summary>
    public string Description { get; }

    public bool IsResolved => _resolved is not null;

    /// <summary>The resolved root object.</summary>
    public HoconObject Root => _resolved ??= new HoconResolver(_raw, DefaultEnvironment).Resolve();

    private static string? DefaultEnvironment(string name) => Environment.GetEnvironmentVariable(name);

    /// <summary>Resolves substitutions; unresolved ones fall back to <paramref name="environment"/> (default: process environment variables).</summary>
    public Config Resolve(Func<string, string?>? environment = null) =>
        environment is null && _resolved is not null
            ? this
            : new Config(new HoconResolver(_raw, environment ?? DefaultEnvironment).Resolve(), Description, resolved: true);

    /// <summary>This config with <paramref name="fallback"/> underneath: keys here win, objects merge, as for duplicate keys in one file.</summary>
    public Config WithFallback(Config fallback) =>
        new(HoconMerging.MergeObjects(fallback._raw, _raw), $"{Description}, falling back to {fallback.Description}");

    /// <summary>
    /// This config with <paramref name="valueText"/> (HOCON value syntax, substitutions allowed) assigned at
    /// <paramref name="path"/> on top, exactly as if "path = value" were appended to the file; for --set.
    /// </summary>
    public Config WithValue(string path, string valueText, string source = "--set")
    {
        string[] p = HoconPath.Parse(path, source);
        HoconValue value = HoconParser.ParseSingleValue(valueText, source);
        for (int k = p.Length - 1; k >= 0; k--)
        {
            var fields = new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal) { [p[k]] = HoconMerging.Merge(null, value) };
            value = new HoconObject(fields, value.Origin);
        }
        return new Config(HoconMerging.MergeObjects(_raw, (HoconObject)value), Description);
    }

    /// <summary>The resolved tree as JSON, keys in order.</summary>
    public string ToJson(bool indented = true, bool sortKeys = false) => Root.ToJson(indented, sortKeys);

    public bool HasPath(string path) => TryFind(path, out HoconValue? v, out _) && v is not HoconScalar { Kind: HoconScalarKind.Null };

    /// <summary>The value at <paramref name="path"/>; throws a <see cref="UserError"/> naming the path when it is missing.</summary>
    public HoconValue GetValue(string path) => Find(path, "a value");

    public string GetString(string path)
    {
        HoconScalar s = Scalar(path, "a string");
        return s.Text;
    }

    public long GetLong(string path)
    {
        HoconScalar s = Scalar(path, "an integer");
        if (long.TryParse(s.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)) return v;
        if (IsNumber(s) && double.TryParse(s.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            && d == Math.Floor(d) && d >= long.MinValue && d < 9.2233720368547758e18)
            return (long)d;
        throw WrongType(path, s, "an integer");
    }

    public int GetInt(string path)
    {
        long v = GetLong(path);
        if (v is < int.MinValue or > int.MaxValue)
            throw WrongType(path, (HoconScalar)Find(path, "an integer"), $"an integer between {int.MinValue} and {int.MaxValue}");
        return (int)v;
    }

    public double GetDouble(string path)
    {
        HoconScalar s = Scalar(path, "a number");
        if (IsNumber(s) && double.TryParse(s.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return v;
        throw WrongType(path, s, "a number");
    }

    /// <summary>true/false, or the strings yes/no/on/off, as the spec's automatic conversions allow.</summary>
    public bool GetBoolean(string path)
    {
        HoconScalar s = Scalar(path, "a boolean");
        return s.Text switch
        {
            "true" or "yes" or "on" => true,
            "false" or "no" or "off" => false,
            _ => throw WrongType(path, s, "a boolean (true/false, yes/no, on/off)"),
        };
    }

    /// <summary>A duration such as 10s, 500 ms or 2 minutes; a bare number is milliseconds.</summary>
    public TimeSpan GetDuration(string path)
    {
        const string expected = "a duration such as 10s, 500 ms or 2 minutes (units " + Units.DurationUnits + ")";
        HoconScalar s = Scalar(path, expected);
        return Units.TryParseDuration(s, out TimeSpan d) ? d : throw WrongType(path, s, expected);
    }

    /// <summary>A size in bytes such as 64 MiB, 10K or 512kB; a bare number is bytes.</summary>
    public long GetBytes(string path)
    {
        const string expected = "a size in bytes such as 64 MiB, 10K or 512kB (units " + Units.SizeUnits + ")";
        HoconScalar s = Scalar(path, expected);
        return Units.TryParseBytes(s, out long b) ? b : throw WrongType(path, s, expected);
    }

    public IReadOnlyList<string> GetStringList(string path)
    {
        HoconValue v = Find(path, "a list of strings");
        HoconArray a = v as HoconArray ?? (v is HoconObject o ? NumericallyIndexed.ToArray(o) : null) ?? throw WrongType(path, v, "a list of strings");
        var list = new List<string>(a.Items.Count);
        for (int i = 0; i < a.Items.Count; i++)
        {
            if (a.Items[i] is not HoconScalar { Kind: not HoconScalarKind.Null } s)
                throw WrongType($"{path}[{i}]", a.Items[i], "a string");
            list.Add(s.Text);
        }
        return list;
    }

    /// <summary>The object at <paramref name="path"/> as a config of its own (resolved already).</summary>
    public Config GetConfig(string path)
    {
        HoconValue v = Find(path, "an object");
        if (v is not HoconObject o) throw WrongType(path, v, "an object");
        return new Config(o, $"{HoconPath.Render(HoconPath.Parse(path))} in {Description}", resolved: true);
    }

    private static bool IsNumber(HoconScalar s) =>
        s.Kind == HoconScalarKind.Number || (s.Kind == HoconScalarKind.String && HoconTokenizer.IsJsonNumber(s.Text.Trim()));

    private HoconScalar Scalar(string path, string expected)
    {
        HoconValue v = Find(path, expected);
        if (v is HoconScalar { Kind: not HoconScalarKind.Null } s) return s;
        throw WrongType(path, v, expected);
    }

    private HoconValue Find(string path, string expected)
    {
        if (TryFind(path, out HoconValue? v, out HoconValue? blocker)) return v!;
        if (blocker is not null)
            throw new UserError($"config '{path}': the part before it is {blocker.KindName} at {blocker.Origin}, so '{path}' cannot exist; expected {expected} there. " +
                $"HINT: make the parent an object in {blocker.Origin.Source}");
        throw new UserError($"config '{path}' is missing in {Description}; expected {expected}. " +
            $"HINT: add '{path} = ...' to your config file or pass --set {path}=...");
    }

    private bool TryFind(string path, out HoconValue? value, out HoconValue? blocker)
    {
        string[] p = HoconPath.Parse(path, $"config path '{path}'");
        HoconValue node = Root;
        blocker = null;
        value = null;
        foreach (string key in p)
        {
            if (node is not HoconObject o) { blocker = node; return false; }
            if (!o.TryGetValue(key, out node!)) return false;
        }
        value = node;
        return true;
    }

    private static UserError WrongType(string path, HoconValue v, string expected)
    {
        string shown = v is HoconScalar { Kind: HoconScalarKind.String } s ? $"{v.KindName} \"{s.Text}\"" : v is HoconScalar sc ? $"{v.KindName} ({sc.Text})" : v.KindName;
        if (v is HoconScalar { Kind: HoconScalarKind.Null }) shown = "null";
        return new UserError($"config '{path}' at {v.Origin} is {shown}; expected {expected}. HINT: fix the value at {v.Origin}");
    }
}
