using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Persistence.Sql;
using Akka.Streams;
using ImageGpt.Actors.History;
using ImageGpt.Nn;
using AkkaConfig = Akka.Configuration.Config;
using AkkaFactory = Akka.Configuration.ConfigurationFactory;
using AkkaHoconObject = Akka.Configuration.Hocon.HoconObject;
using AkkaHoconValue = Akka.Configuration.Hocon.HoconValue;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// The hand-over of a run's config to Akka.NET. The user writes one config; its <c>akka { }</c> section (over the one in
/// hocon/reference.conf, which documents the Akka settings ImageGpt relies on) is what Akka gets, plus the settings a
/// run derives from its own (the run store as the persistence plugins' database, the serializer of the run's events).
/// Akka's own parser would accept any key; here every key must be one Akka's reference configuration has, with a value
/// of the same type, so that a typo fails at start with the key, where it was written and the closest known key.
/// </summary>
public static partial class AkkaSettings
{
    private const string Serializer = "ImageGpt.Actors.History.RunEventSerializer, ImageGpt.Actors";

    /// <summary>Akka's reference configuration of the modules a run loads: what a user's akka keys are checked against.</summary>
    public static AkkaConfig Reference { get; } = AkkaFactory.Default()
        .WithFallback(Akka.Persistence.Persistence.DefaultConfig())
        .WithFallback(SqlPersistence.DefaultConfiguration)
        .WithFallback(ActorMaterializer.DefaultConfig());

    /// <summary>Maps whose keys the user chooses (serializer names, deployment paths, extra shutdown phases).</summary>
    private static readonly string[] OpenMaps =
    [
        "akka.actor.deployment", "akka.actor.serializers", "akka.actor.serialization-bindings",
        "akka.actor.serialization-identifiers", "akka.actor.serialization-settings", "akka.coordinated-shutdown.phases",
    ];

    /// <summary>Set by the run from checkpoint.* (and the run's event types); a user value would be silently replaced.</summary>
    private static readonly string[] Derived =
    [
        "akka.persistence.journal.plugin", "akka.persistence.snapshot-store.plugin",
        "akka.persistence.journal.sql.connection-string", "akka.persistence.journal.sql.provider-name",
        "akka.persistence.snapshot-store.sql.connection-string", "akka.persistence.snapshot-store.sql.provider-name",
        "akka.persistence.query.journal.sql.connection-string", "akka.persistence.query.journal.sql.provider-name",
        "akka.persistence.query.journal.sql.write-plugin",
    ];

    /// <summary>Settings whose default has one type but which Akka documents as taking another too.</summary>
    private static readonly Dictionary<string, string> AlsoBoolean = new(StringComparer.Ordinal)
    {
        ["akka.log-dead-letters"] = "a count, or on/off",
    };

    /// <summary>Throws a <see cref="UserError"/> for the first akka setting that Akka does not have or that has the wrong type.</summary>
    public static void Validate(Config resolved)
    {
        if (!resolved.Root.TryGetValue("akka", out HoconValue akka)) return;
        if (akka is not HoconObject section)
            throw new UserError($"config 'akka' at {akka.Origin} is {akka.KindName}; expected a section. HINT: write akka {{ ... }} with Akka.NET's settings inside");
        Walk(section, Reference.Root.GetObject().GetKey("akka"), ["akka"]);
    }

    private static void Walk(HoconObject given, AkkaHoconValue? known, List<string> path)
    {
        AkkaHoconObject? knownObject = known is not null && known.IsObject() ? known.GetObject() : null;
        foreach (string key in given.Keys)
        {
            HoconValue value = given[key];
            List<string> p = [.. path, key];
            string name = string.Join('.', p);
            if (OpenMaps.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal))) continue;
            if (Derived.Contains(name))
                throw new UserError($"config '{name}' at {value.Origin} is set by imagegpt from checkpoint.store and checkpoint.postgres. " +
                    "HINT: remove it and choose the run's database with checkpoint.store = sqlite | postgres (and checkpoint.postgres)");
            AkkaHoconValue? k = knownObject?.Items.GetValueOrDefault(key);
            if (k is null)
            {
                string? closest = RunConfigLoader.Closest(name, LeafPaths(Reference.Root.GetObject().GetKey("akka"), "akka"));
                throw new UserError($"unknown Akka setting '{name}' at {value.Origin}. HINT: {(closest is null ? "" : $"did you mean '{closest}'? ")}" +
                    "the akka section takes Akka.NET's own settings (see Akka's reference.conf; hocon/reference.conf lists those imagegpt relies on)");
            }
            if (k.IsObject())
            {
                if (value is HoconObject o) Walk(o, k, p);
                else if (!(value is HoconScalar { Kind: HoconScalarKind.Null }))
                    throw WrongType(name, value, "a section", $"set single values inside it, e.g. {name}.{k.GetObject().Items.Keys.FirstOrDefault() ?? "key"} = ...");
                continue;
            }
            string? problem = Check(k, value);
            if (problem is not null && AlsoBoolean.TryGetValue(name, out string? both))
                problem = value is HoconScalar b && IsBoolean(b.Text.Trim()) ? null : both;
            if (problem is not null) throw WrongType(name, value, problem, $"Akka's default is {Shown(k)}");
        }
    }

    private static IEnumerable<string> LeafPaths(AkkaHoconValue value, string prefix) =>
        value.IsObject()
            ? value.GetObject().Items.SelectMany(kv => LeafPaths(kv.Value, $"{prefix}.{kv.Key}"))
            : [prefix];

    /// <summary>Null when <paramref name="given"/> fits the type of Akka's default <paramref name="known"/>, else what was expected.</summary>
    private static string? Check(AkkaHoconValue known, HoconValue given)
    {
        if (given is HoconScalar { Kind: HoconScalarKind.Null }) return null;
        if (known.IsArray()) return given is HoconArray ? null : "a list";
        if (given is HoconObject) return "a single value";
        if (given is HoconArray) return "a single value, not a list";
        string text = ((HoconScalar)given).Text.Trim();
        string reference = known.IsString() ? known.GetString() ?? "" : "";
        if (IsBoolean(reference)) return IsBoolean(text) ? null : "on/off (a boolean)";
        if (reference.Equals("infinite", StringComparison.OrdinalIgnoreCase) || Duration().IsMatch(reference))
            return text.Equals("infinite", StringComparison.OrdinalIgnoreCase) || Duration().IsMatch(text) || IsNumber(text) ? null : "a duration such as 10s";
        if (Size().IsMatch(reference)) return Size().IsMatch(text) || IsInteger(text) ? null : "a size such as 128KiB";
        if (IsInteger(reference)) return IsInteger(text) ? null : "an integer";
        if (IsNumber(reference)) return IsNumber(text) ? null : "a number";
        return null;
    }

    private static bool IsBoolean(string s) => s.ToLowerInvariant() is "on" or "off" or "true" or "false" or "yes" or "no";

    private static bool IsInteger(string s) => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);

    private static bool IsNumber(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    [GeneratedRegex(@"^\d+(\.\d+)?\s*(ns|nano|nanos|nanosecond|nanoseconds|us|micro|micros|microsecond|microseconds|ms|milli|millis|millisecond|milliseconds|s|second|seconds|m|minute|minutes|h|hour|hours|d|day|days)$")]
    private static partial Regex Duration();

    [GeneratedRegex(@"^\d+\s*(b|byte|bytes|k|kb|kB|kilobyte|kilobytes|K|Ki|KiB|kibibyte|kibibytes|m|mb|MB|megabyte|megabytes|M|Mi|MiB|mebibyte|mebibytes|g|gb|GB|gigabyte|gigabytes|G|Gi|GiB|gibibyte|gibibytes)$")]
    private static partial Regex Size();

    private static string Shown(AkkaHoconValue v) => v.IsString() ? $"'{v.GetString()}'" : v.IsArray() ? "a list" : "a section";

    private static UserError WrongType(string name, HoconValue value, string expected, string hint)
    {
        string shown = value is HoconScalar s ? $"'{s.Text}'" : value.KindName;
        return new UserError($"Akka setting '{name}' = {shown} at {value.Origin} is not {expected}. HINT: {hint}");
    }

    /// <summary>
    /// The configuration an actor system of this run starts with: the resolved akka section under the settings the
    /// run derives (its store as the journal, snapshot store and read journal; the event serializer), over Akka's
    /// reference. <paramref name="store"/> null: no persistence plugins (a system that only computes).
    /// </summary>
    /// <param name="readOnly">For readers in another process (status): never create the tables.</param>
    public static AkkaConfig Build(Config resolved, RunStore? store, bool readOnly = false)
    {
        string user = resolved.Root.TryGetValue("akka", out HoconValue akka) ? $"akka = {akka.ToJson()}" : "";
        return AkkaFactory.ParseString(Derive(store, readOnly))
            .WithFallback(AkkaFactory.ParseString(user))
            .WithFallback(AkkaFactory.ParseString(ProviderDefaults(store)))
            .WithFallback(SqlPersistence.DefaultConfiguration);
    }

    private static string Derive(RunStore? store, bool readOnly)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"akka.actor.serializers.imagegpt-history = {Quote(Serializer)}");
        sb.AppendLine($"akka.actor.serialization-bindings {{ {Quote("ImageGpt.Actors.History.IRunEvent, ImageGpt.Actors")} = imagegpt-history, {Quote("ImageGpt.Actors.History.RunHistorySnapshot, ImageGpt.Actors")} = imagegpt-history }}");
        if (store is null) return sb.ToString();
        string connection = Quote(store.AkkaConnectionString), provider = Quote(store.AkkaProviderName), init = readOnly ? "off" : "on";
        sb.AppendLine("akka.persistence.journal.plugin = \"akka.persistence.journal.sql\"");
        sb.AppendLine("akka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.sql\"");
        sb.AppendLine($"akka.persistence.journal.sql {{ connection-string = {connection}, provider-name = {provider}, auto-initialize = {init} }}");
        sb.AppendLine($"akka.persistence.snapshot-store.sql {{ connection-string = {connection}, provider-name = {provider}, auto-initialize = {init} }}");
        sb.AppendLine($"akka.persistence.query.journal.sql {{ connection-string = {connection}, provider-name = {provider}, write-plugin = \"akka.persistence.journal.sql\" }}");
        return sb.ToString();
    }

    /// <summary>Beneath the user's settings: SQLite has one write lock, so the journal writes with one connection at a time.</summary>
    private static string ProviderDefaults(RunStore? store) =>
        store?.Provider == "sqlite" ? "akka.persistence.journal.sql.parallelism = 1" : "";

    private static string Quote(string s)
    {
        var sb = new StringBuilder();
        HoconValue.WriteJsonString(sb, s);
        return sb.ToString();
    }
}
