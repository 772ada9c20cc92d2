using System.Globalization;

namespace ImageGpt.Actors.Configuration;

/// <summary>The spec's "units format": a number, optional whitespace, an optional unit made of letters.</summary>
internal static class Units
{
    private static readonly Dictionary<string, decimal> NanosPerUnit = BuildDurations();
    private static readonly Dictionary<string, decimal> BytesPerUnit = BuildSizes();

    public const string DurationUnits = "ns, us, ms, s, m, h, d (or their long names: seconds, minutes, ...)";
    public const string SizeUnits = "B, kB/K/KiB, MB/M/MiB, GB/G/GiB, TB/T/TiB, ... (K, M, G are powers of two)";

    private static Dictionary<string, decimal> BuildDurations()
    {
        var d = new Dictionary<string, decimal>(StringComparer.Ordinal);
        void Add(decimal nanos, params string[] names) { foreach (string n in names) d[n] = nanos; }
        Add(1m, "ns", "nano", "nanos", "nanosecond", "nanoseconds");
        Add(1_000m, "us", "micro", "micros", "microsecond", "microseconds");
        Add(1_000_000m, "ms", "milli", "millis", "millisecond", "milliseconds");
        Add(1_000_000_000m, "s", "second", "seconds");
        Add(60_000_000_000m, "m", "minute", "minutes");
        Add(3_600_000_000_000m, "h", "hour", "hours");
        Add(86_400_000_000_000m, "d", "day", "days");
        return d;
    }

    private static Dictionary<string, decimal> BuildSizes()
    {
        var d = new Dictionary<string, decimal>(StringComparer.Ordinal) { ["B"] = 1, ["b"] = 1, ["byte"] = 1, ["bytes"] = 1 };
        string[] letters = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
        string[] decimalNames = ["kilo", "mega", "giga", "tera", "peta", "exa", "zetta", "yotta"];
        string[] binaryNames = ["kibi", "mebi", "gibi", "tebi", "pebi", "exbi", "zebi", "yobi"];
        decimal ten = 1, two = 1;
        for (int i = 0; i < letters.Length; i++)
        {
            ten *= 1000;
            two *= 1024;
            d[letters[i] + "B"] = ten;
            d[decimalNames[i] + "byte"] = ten;
            d[decimalNames[i] + "bytes"] = ten;
            string upper = letters[i].ToUpperInvariant();
            foreach (string n in (ReadOnlySpan<string>)[upper, upper.ToLowerInvariant(), upper + "i", upper + "iB", binaryNames[i] + "byte", binaryNames[i] + "bytes"])
                d[n] = two;
        }
        return d;
    }

    /// <summary>Splits "500 ms" into 500 and "ms"; the unit is the trailing run of letters.</summary>
    private static bool TrySplit(string s, out decimal number, out string unit)
    {
        s = s.Trim();
        int i = s.Length;
        while (i > 0 && char.IsLetter(s[i - 1])) i--;
        unit = s[i..];
        string num = s[..i].Trim();
        return decimal.TryParse(num, NumberStyles.Float, CultureInfo.InvariantCulture, out number) && HoconTokenizer.IsJsonNumber(num.TrimStart('+'));
    }

    /// <summary>Bare numbers are milliseconds; strings carry a unit.</summary>
    public static bool TryParseDuration(HoconScalar v, out TimeSpan duration)
    {
        duration = default;
        decimal nanos;
        if (v.Kind == HoconScalarKind.Number)
        {
            if (!decimal.TryParse(v.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal ms)) return false;
            nanos = ms * 1_000_000m;
        }
        else if (v.Kind == HoconScalarKind.String && TrySplit(v.Text, out decimal n, out string unit))
        {
            if (unit.Length == 0) unit = "ms";
            if (!NanosPerUnit.TryGetValue(unit, out decimal factor)) return false;
            nanos = n * factor;
        }
        else return false;
        decimal ticks = decimal.Truncate(nanos / 100m);
        if (ticks > TimeSpan.MaxValue.Ticks || ticks < TimeSpan.MinValue.Ticks) return false;
        duration = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    /// <summary>Bare numbers are bytes; strings carry a unit. Fractions of a byte are dropped, as the reference implementation does.</summary>
    public static bool TryParseBytes(HoconScalar v, out long bytes)
    {
        bytes = 0;
        decimal total;
        if (v.Kind == HoconScalarKind.Number)
        {
            if (!decimal.TryParse(v.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out total)) return false;
        }
        else if (v.Kind == HoconScalarKind.String && TrySplit(v.Text, out decimal n, out string unit))
        {
            if (!BytesPerUnit.TryGetValue(unit.Length == 0 ? "B" : unit, out decimal factor)) return false;
            try { total = n * factor; }
            catch (OverflowException) { return false; }
        }
        else return false;
        total = decimal.Truncate(total);
        if (total > long.MaxValue || total < long.MinValue) return false;
        bytes = (long)total;
        return true;
    }
}
