using System.Globalization;
using System.Text;

namespace ImageGpt.Actors.Configuration;

/// <summary>Where a value was written: the file (or other source) and the 1-based line.</summary>
public sealed record HoconOrigin(string Source, int Line)
{
    public override string ToString() => Line > 0 ? $"{Source}:{Line}" : Source;
}

/// <summary>
/// A node of a HOCON tree. After resolution only <see cref="HoconObject"/>, <see cref="HoconArray"/>
/// and <see cref="HoconScalar"/> remain; the parser also produces substitutions, concatenations and
/// delayed merges, which are internal because only the resolver may look at them.
/// Nodes are immutable and compared by reference: the resolver memoizes per node, as the spec
/// requires substitutions to be memoized per occurrence rather than per path.
/// </summary>
public abstract class HoconValue
{
    private protected HoconValue(HoconOrigin origin) => Origin = origin;

    public HoconOrigin Origin { get; }

    /// <summary>Human name of the value's type, for error messages ("a number", "an object").</summary>
    public abstract string KindName { get; }

    /// <summary>JSON text of a resolved tree. <paramref name="sortKeys"/> gives a canonical form for comparisons.</summary>
    public string ToJson(bool indented = true, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        WriteJson(sb, this, indented, sortKeys, 0);
        return sb.ToString();
    }

    private static void WriteJson(StringBuilder sb, HoconValue v, bool indented, bool sortKeys, int depth)
    {
        switch (v)
        {
            case HoconScalar s:
                if (s.Kind == HoconScalarKind.String) WriteJsonString(sb, s.Text);
                else sb.Append(s.Text);
                break;
            case HoconArray a:
                if (a.Items.Count == 0) { sb.Append("[]"); break; }
                sb.Append('[');
                for (int i = 0; i < a.Items.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    NewLine(sb, indented, depth + 1);
                    WriteJson(sb, a.Items[i], indented, sortKeys, depth + 1);
                }
                NewLine(sb, indented, depth);
                sb.Append(']');
                break;
            case HoconObject o:
                if (o.Count == 0) { sb.Append("{}"); break; }
                sb.Append('{');
                IEnumerable<string> keys = sortKeys ? o.Keys.OrderBy(k => k, StringComparer.Ordinal) : o.Keys;
                bool first = true;
                foreach (string key in keys)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    NewLine(sb, indented, depth + 1);
                    WriteJsonString(sb, key);
                    sb.Append(indented ? ": " : ":");
                    WriteJson(sb, o[key], indented, sortKeys, depth + 1);
                }
                NewLine(sb, indented, depth);
                sb.Append('}');
                break;
            default:
                throw new InvalidOperationException($"cannot render an unresolved {v.KindName} as JSON; resolve the config first");
        }
    }

    private static void NewLine(StringBuilder sb, bool indented, int depth)
    {
        if (!indented) return;
        sb.Append('\n');
        sb.Append(' ', 2 * depth);
    }

    internal static void WriteJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}

public enum HoconScalarKind { String, Number, Boolean, Null }

/// <summary>A string, number, boolean or null. Numbers keep the text they were written with.</summary>
public sealed class HoconScalar : HoconValue
{
    internal HoconScalar(HoconScalarKind kind, string text, HoconOrigin origin, bool isWhitespace = false) : base(origin)
    {
        Kind = kind;
        Text = text;
        IsWhitespace = isWhitespace;
    }

    public HoconScalarKind Kind { get; }

    /// <summary>The string value; for other kinds the text as written ("1e5", "true", "null").</summary>
    public string Text { get; }

    /// <summary>Unquoted whitespace between two parts of a concatenation: kept between strings, dropped between arrays or objects.</summary>
    internal bool IsWhitespace { get; }

    public override string KindName => Kind switch
    {
        HoconScalarKind.String => "a string",
        HoconScalarKind.Number => "a number",
        HoconScalarKind.Boolean => "a boolean",
        _ => "null",
    };
}

/// <summary>An ordered list of values.</summary>
public sealed class HoconArray : HoconValue
{
    internal HoconArray(IReadOnlyList<HoconValue> items, HoconOrigin origin) : base(origin) => Items = items;

    public IReadOnlyList<HoconValue> Items { get; }

    public override string KindName => "a list";
}

/// <summary>An object whose keys keep the order of their first appearance.</summary>
public sealed class HoconObject : HoconValue
{
    private readonly OrderedDictionary<string, HoconValue> _fields;

    internal HoconObject(OrderedDictionary<string, HoconValue> fields, HoconOrigin origin, bool ignoresFallbacks = false) : base(origin)
    {
        _fields = fields;
        IgnoresFallbacks = ignoresFallbacks;
    }

    /// <summary>
    /// Set when this object replaced a non-object: the spec merges in pairs, so the non-object it replaced
    /// hides every older value and a later fallback must not merge into this object.
    /// </summary>
    internal bool IgnoresFallbacks { get; }

    internal IReadOnlyDictionary<string, HoconValue> Fields => _fields;

    public IEnumerable<string> Keys => _fields.Keys;

    public int Count => _fields.Count;

    public HoconValue this[string key] => _fields[key];

    public bool TryGetValue(string key, out HoconValue value) => _fields.TryGetValue(key, out value!);

    public override string KindName => "an object";
}

/// <summary><c>${path}</c> or <c>${?path}</c>. <see cref="Prefix"/> is where the including file put this file's root.</summary>
internal sealed class HoconSubstitution(string[] path, bool optional, string[] prefix, HoconOrigin origin) : HoconValue(origin)
{
    public string[] Path { get; } = path;
    public bool Optional { get; } = optional;
    public string[] Prefix { get; } = prefix;

    public override string KindName => "a substitution";

    public override string ToString() => (Optional ? "${?" : "${") + HoconPath.Render(Path) + "}";
}

/// <summary>Values written side by side on one line that contain a substitution, so their joint type is known only after resolving.</summary>
internal sealed class HoconConcat(IReadOnlyList<HoconValue> parts, HoconOrigin origin) : HoconValue(origin)
{
    public IReadOnlyList<HoconValue> Parts { get; } = parts;

    public override string KindName => "a concatenation";
}

/// <summary>
/// Successive assignments to one field that could not be merged while parsing because one of them
/// contains a substitution. <see cref="Stack"/> runs oldest first; a self-reference in element i sees
/// only the merge of elements below i.
/// </summary>
internal sealed class HoconMerge(IReadOnlyList<HoconValue> stack) : HoconValue(stack[^1].Origin)
{
    public IReadOnlyList<HoconValue> Stack { get; } = stack;

    public override string KindName => "a merge of several assignments";
}

/// <summary>Merging as the spec defines it for duplicate keys, includes and fallbacks.</summary>
internal static class HoconMerging
{
    internal static bool IsUnresolved(HoconValue v) => v is HoconSubstitution or HoconConcat or HoconMerge;

    /// <summary>The value of a key assigned <paramref name="older"/> and then <paramref name="newer"/>.</summary>
    public static HoconValue Merge(HoconValue? older, HoconValue newer)
    {
        if (older is null)
            return newer is HoconSubstitution or HoconConcat ? new HoconMerge([newer]) : newer;
        if (newer is HoconObject no && older is HoconObject oo)
            return MergeObjects(oo, no);
        if (newer is HoconMerge nm)
            return new HoconMerge([.. StackOf(older), .. nm.Stack]);
        if (newer is HoconSubstitution or HoconConcat || (newer is HoconObject && IsUnresolved(older)))
            return new HoconMerge([.. StackOf(older), newer]);
        if (newer is HoconObject o && !o.IgnoresFallbacks)
            return new HoconObject(new OrderedDictionary<string, HoconValue>(o.Fields, StringComparer.Ordinal), o.Origin, ignoresFallbacks: true);
        // A resolved non-object hides everything below it, so substitutions there are never evaluated.
        return newer;
    }

    private static IReadOnlyList<HoconValue> StackOf(HoconValue v) => v is HoconMerge m ? m.Stack : [v];

    public static HoconObject MergeObjects(HoconObject older, HoconObject newer)
    {
        if (newer.IgnoresFallbacks) return newer;
        var fields = new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal);
        foreach (string k in older.Keys) fields[k] = older[k];
        foreach (string k in newer.Keys)
            fields[k] = fields.TryGetValue(k, out HoconValue? old) ? Merge(old, newer[k]) : Merge(null, newer[k]);
        return new HoconObject(fields, newer.Origin, older.IgnoresFallbacks);
    }
}

/// <summary>Path expressions: splitting keys at unquoted dots and rendering paths back.</summary>
public static class HoconPath
{
    /// <summary>Parses a path expression such as <c>a.b."c.d"</c> into its elements.</summary>
    public static string[] Parse(string expression, string source = "path")
    {
        var tokens = new HoconTokenizer(expression, source).Tokenize();
        var parts = tokens.Where(t => t.Kind != TokenKind.Eof).ToList();
        foreach (Token t in parts)
            if (t.Kind is not (TokenKind.Whitespace or TokenKind.Quoted or TokenKind.Unquoted or TokenKind.Number or TokenKind.Boolean or TokenKind.Null))
                throw HoconTokenizer.Error(source, t.Line, t.Column, "a path expression such as a.b.c", t.Describe());
        return FromTokens(parts, source, 1, 1);
    }

    internal static string[] FromTokens(IReadOnlyList<Token> tokens, string source, int line, int column)
    {
        int start = 0, end = tokens.Count;
        while (start < end && tokens[start].Kind == TokenKind.Whitespace) start++;
        while (end > start && tokens[end - 1].Kind == TokenKind.Whitespace) end--;
        if (start == end) throw HoconTokenizer.Error(source, line, column, "a path expression", "nothing");
        var elements = new List<string>();
        var current = new StringBuilder();
        bool hasContent = false;
        for (int i = start; i < end; i++)
        {
            Token t = tokens[i];
            if (t.Kind == TokenKind.Quoted)
            {
                current.Append(t.Text);
                hasContent = true;
                continue;
            }
            for (int ci = 0; ci < t.Text.Length; ci++)
            {
                char c = t.Text[ci];
                if (c == '.' && t.Kind != TokenKind.Whitespace)
                {
                    if (!hasContent)
                        throw HoconTokenizer.Error(source, t.Line, t.Column + ci, "a path element before '.' (quote empty elements as \"\")", "'.'");
                    elements.Add(current.ToString());
                    current.Clear();
                    hasContent = false;
                }
                else
                {
                    current.Append(c);
                    if (t.Kind != TokenKind.Whitespace) hasContent = true;
                }
            }
        }
        if (!hasContent)
        {
            Token last = tokens[end - 1];
            throw HoconTokenizer.Error(source, last.Line, last.Column, "a path element after '.'", "the end of the path");
        }
        elements.Add(current.ToString());
        return [.. elements];
    }

    /// <summary>Renders a path so that <see cref="Parse"/> gives it back: elements that need it are quoted.</summary>
    public static string Render(IEnumerable<string> path) => string.Join('.', path.Select(RenderElement));

    private static string RenderElement(string e)
    {
        bool plain = e.Length > 0 && !(e[0] is '-' || char.IsDigit(e[0])) && e != "include"
            && !e.StartsWith("true", StringComparison.Ordinal) && !e.StartsWith("false", StringComparison.Ordinal) && !e.StartsWith("null", StringComparison.Ordinal)
            && e.All(c => c != '.' && !HoconTokenizer.IsForbidden(c) && !HoconTokenizer.IsWhitespace(c)) && !e.Contains("//", StringComparison.Ordinal);
        if (plain) return e;
        var sb = new StringBuilder();
        HoconValue.WriteJsonString(sb, e);
        return sb.ToString();
    }
}
