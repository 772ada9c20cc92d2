using System.Text;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

/// <summary>
/// Builds the unresolved tree of one HOCON document. Duplicate keys, path keys and includes are merged
/// here; substitutions stay in the tree until <see cref="HoconResolver"/> runs on the final, layered config.
/// </summary>
internal sealed class HoconParser
{
    private readonly List<Token> _tokens;
    private readonly string _source;
    private readonly string? _directory;
    private readonly string[] _prefix;
    private readonly IReadOnlyList<string> _includeChain;
    private int _i;

    private HoconParser(string text, string source, string? directory, string[] prefix, IReadOnlyList<string> includeChain)
    {
        _tokens = new HoconTokenizer(text, source).Tokenize();
        _source = source;
        _directory = directory;
        _prefix = prefix;
        _includeChain = includeChain;
    }

    /// <param name="directory">where relative includes are looked up; null when the text has no file</param>
    /// <param name="prefix">the path at which an including file placed this document, for fixing up its substitutions</param>
    public static HoconObject ParseDocument(string text, string source, string? directory, string[]? prefix = null, IReadOnlyList<string>? includeChain = null)
    {
        var p = new HoconParser(text, source, directory, prefix ?? [], includeChain ?? []);
        return p.Document();
    }

    /// <summary>Parses text that must be exactly one value (as written to the right of '='), for command-line overrides.</summary>
    public static HoconValue ParseSingleValue(string text, string source)
    {
        var p = new HoconParser(text, source, null, [], []);
        p.SkipWhitespaceAndNewlines();
        HoconValue v = p.Value([]);
        p.SkipWhitespaceAndNewlines();
        p.Expect(TokenKind.Eof, "the end of the value");
        return v;
    }

    private Token Peek => _tokens[_i];

    private Token Take() => _tokens[_i++];

    private HoconOrigin OriginOf(Token t) => new(_source, t.Line);

    private UserError Unexpected(string expected, string? hint = null) =>
        HoconTokenizer.Error(_source, Peek.Line, Peek.Column, expected, Peek.Describe(), hint);

    private Token Expect(TokenKind kind, string expected)
    {
        if (Peek.Kind != kind) throw Unexpected(expected);
        return Take();
    }

    private void SkipWhitespace()
    {
        while (Peek.Kind == TokenKind.Whitespace) _i++;
    }

    private void SkipWhitespaceAndNewlines()
    {
        while (Peek.Kind is TokenKind.Whitespace or TokenKind.Newline) _i++;
    }

    private HoconObject Document()
    {
        SkipWhitespaceAndNewlines();
        if (Peek.Kind == TokenKind.OpenBracket)
            throw Unexpected("an object at the root ('{' or a key)", "a config file holds an object; put the list under a key, e.g. items = [...]");
        HoconObject root;
        if (Peek.Kind == TokenKind.OpenBrace)
        {
            Take();
            root = ObjectBody(braced: true, []);
            SkipWhitespaceAndNewlines();
            Expect(TokenKind.Eof, "the end of input after the root object's closing '}'");
        }
        else
        {
            root = ObjectBody(braced: false, []);
        }
        return root;
    }

    private HoconObject ObjectBody(bool braced, string[] path)
    {
        var origin = OriginOf(Peek);
        var fields = new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal);
        while (true)
        {
            SkipWhitespaceAndNewlines();
            if (braced && Peek.Kind == TokenKind.CloseBrace) { Take(); break; }
            if (Peek.Kind == TokenKind.Eof)
            {
                if (braced) throw Unexpected("'}' to close the object opened at line " + origin.Line);
                break;
            }
            if (Peek.Kind == TokenKind.Unquoted && Peek.Text == "include")
                Include(fields, path);
            else
                Field(fields, path);
            SkipWhitespace();
            switch (Peek.Kind)
            {
                case TokenKind.Comma: Take(); break;
                case TokenKind.Newline: break;
                case TokenKind.Eof: break;
                case TokenKind.CloseBrace when braced: break;
                default:
                    throw Unexpected("',' or a newline after the field", braced ? null : "a '}' without its '{' is not allowed; balance the braces");
            }
        }
        return new HoconObject(fields, origin);
    }

    private static bool IsKeyToken(TokenKind k) =>
        k is TokenKind.Whitespace or TokenKind.Quoted or TokenKind.Unquoted or TokenKind.Number or TokenKind.Boolean or TokenKind.Null;

    private void Field(OrderedDictionary<string, HoconValue> fields, string[] path)
    {
        Token first = Peek;
        var keyTokens = new List<Token>();
        while (IsKeyToken(Peek.Kind)) keyTokens.Add(Take());
        if (keyTokens.Count == 0)
            throw Unexpected("a key", Peek.Kind == TokenKind.Substitution ? "substitutions are not allowed in keys" : null);
        string[] key = HoconPath.FromTokens(keyTokens, _source, first.Line, first.Column);
        string[] fullPath = [.. path, .. key];
        SkipWhitespace();
        HoconValue value;
        switch (Peek.Kind)
        {
            case TokenKind.Colon or TokenKind.Equals:
                Take();
                SkipWhitespaceAndNewlines();
                value = Value(fullPath);
                break;
            case TokenKind.PlusEquals:
            {
                // "a += b" is "a = ${?a} [b]": an optional self-reference concatenated with a one-element list.
                Token op = Take();
                SkipWhitespaceAndNewlines();
                HoconValue element = Value(fullPath);
                var self = new HoconSubstitution(fullPath, optional: true, _prefix, OriginOf(op));
                value = new HoconConcat([self, new HoconArray([element], element.Origin)], OriginOf(op));
                break;
            }
            case TokenKind.OpenBrace:
                value = Value(fullPath);
                break;
            default:
                throw Unexpected($"':', '=' or '{{' after the key '{HoconPath.Render(key)}'",
                    Peek.Kind == TokenKind.Newline ? "a key and its value must start on the same line" : null);
        }
        for (int k = key.Length - 1; k >= 1; k--)
        {
            var nested = new OrderedDictionary<string, HoconValue>(StringComparer.Ordinal) { [key[k]] = HoconMerging.Merge(null, value) };
            value = new HoconObject(nested, value.Origin);
        }
        fields[key[0]] = HoconMerging.Merge(fields.TryGetValue(key[0], out HoconValue? old) ? old : null, value);
    }

    /// <summary>A field value or list element: one or more values separated only by spaces on one line.</summary>
    private HoconValue Value(string[] path)
    {
        var parts = new List<HoconValue>();
        string? pendingSpace = null;
        Token? pendingToken = null;
        while (true)
        {
            Token t = Peek;
            HoconValue part;
            switch (t.Kind)
            {
                case TokenKind.Whitespace:
                    Take();
                    if (parts.Count > 0) { pendingSpace = t.Text; pendingToken = t; }
                    continue;
                case TokenKind.Quoted or TokenKind.Unquoted:
                    Take();
                    part = new HoconScalar(HoconScalarKind.String, t.Text, OriginOf(t));
                    break;
                case TokenKind.Number:
                    Take();
                    part = new HoconScalar(HoconScalarKind.Number, t.Text, OriginOf(t));
                    break;
                case TokenKind.Boolean:
                    Take();
                    part = new HoconScalar(HoconScalarKind.Boolean, t.Text, OriginOf(t));
                    break;
                case TokenKind.Null:
                    Take();
                    part = new HoconScalar(HoconScalarKind.Null, t.Text, OriginOf(t));
                    break;
                case TokenKind.Substitution:
                    Take();
                    part = new HoconSubstitution(t.Path!, t.Optional, _prefix, OriginOf(t));
                    break;
                case TokenKind.OpenBrace:
                    Take();
                    part = ObjectBody(braced: true, path);
                    break;
                case TokenKind.OpenBracket:
                    part = Array(path);
                    break;
                default:
                    if (parts.Count == 0) throw Unexpected("a value");
                    return Combine(parts);
            }
            if (pendingSpace is not null)
            {
                parts.Add(new HoconScalar(HoconScalarKind.String, pendingSpace, OriginOf(pendingToken!), isWhitespace: true));
                pendingSpace = null;
            }
            parts.Add(part);
        }
    }

    private HoconArray Array(string[] path)
    {
        Token open = Take();
        var items = new List<HoconValue>();
        while (true)
        {
            SkipWhitespaceAndNewlines();
            if (Peek.Kind == TokenKind.CloseBracket) { Take(); break; }
            if (Peek.Kind == TokenKind.Eof) throw Unexpected($"']' to close the list opened at line {open.Line}");
            items.Add(Value(path));
            SkipWhitespace();
            switch (Peek.Kind)
            {
                case TokenKind.Comma: Take(); break;
                case TokenKind.Newline or TokenKind.CloseBracket: break;
                case TokenKind.Eof: throw Unexpected($"']' to close the list opened at line {open.Line}");
                default: throw Unexpected("',' or ']' after a list element");
            }
        }
        return new HoconArray(items, OriginOf(open));
    }

    /// <summary>Concatenation without substitutions is settled now; with them it waits for the resolver.</summary>
    private static HoconValue Combine(List<HoconValue> parts)
    {
        if (parts.Count == 1) return parts[0];
        if (parts.Any(p => p is HoconSubstitution)) return new HoconConcat(parts, parts[0].Origin);
        return Concatenation.Join(parts, parts[0].Origin);
    }

    private void Include(OrderedDictionary<string, HoconValue> fields, string[] path)
    {
        Token keyword = Take();
        SkipWhitespaceAndNewlines();
        bool required = false;
        string name;
        if (Peek.Kind == TokenKind.Quoted)
        {
            name = Take().Text;
        }
        else
        {
            Token at = Peek;
            var opener = new StringBuilder();
            while (Peek.Kind is TokenKind.Unquoted or TokenKind.Whitespace)
            {
                Token t = Take();
                if (t.Kind == TokenKind.Unquoted) opener.Append(t.Text);
            }
            string o = opener.ToString();
            if (o is "url(" or "classpath(" or "required(url(" or "required(classpath(")
                throw new UserError($"{_source}:{at.Line}:{at.Column}: include {o}...) is not supported here. HINT: include files with include \"name.conf\" or include required(file(\"name.conf\"))");
            if (o is not ("required(" or "file(" or "required(file("))
                throw HoconTokenizer.Error(_source, at.Line, at.Column, "include \"file\", include file(\"file\") or include required(file(\"file\"))",
                    o.Length > 0 ? $"'{o}'" : Peek.Describe());
            required = o.StartsWith("required(", StringComparison.Ordinal);
            name = Expect(TokenKind.Quoted, $"a quoted file name after '{o}'").Text;
            string expectedClose = new(')', o.Count(c => c == '('));
            var closer = new StringBuilder();
            while (closer.Length < expectedClose.Length)
            {
                if (Peek.Kind == TokenKind.Whitespace) { Take(); continue; }
                if (Peek.Kind != TokenKind.Unquoted || !expectedClose.StartsWith(closer + Peek.Text, StringComparison.Ordinal))
                    throw Unexpected($"'{expectedClose[closer.Length..]}' to close the include");
                closer.Append(Take().Text);
            }
        }
        foreach (HoconObject included in LoadIncludes(name, required, keyword, path))
            foreach (string k in included.Keys)
                fields[k] = HoconMerging.Merge(fields.TryGetValue(k, out HoconValue? old) ? old : null, included[k]);
    }

    private IEnumerable<HoconObject> LoadIncludes(string name, bool required, Token at, string[] path)
    {
        var candidates = new List<string>();
        if (Path.IsPathRooted(name) || _directory is not null)
        {
            string full = Path.GetFullPath(Path.IsPathRooted(name) ? name : Path.Combine(_directory!, name));
            if (File.Exists(full)) candidates.Add(full);
            else if (Path.GetExtension(name).Length == 0)
            {
                // An extensionless name means every known format; JSON is read before HOCON so HOCON wins.
                foreach (string ext in (ReadOnlySpan<string>)[".json", ".conf"])
                    if (File.Exists(full + ext)) candidates.Add(full + ext);
            }
            if (candidates.Count == 0 && required)
                throw new UserError($"{_source}:{at.Line}:{at.Column}: required include '{name}' not found (looked for {full}). HINT: create the file or drop required(...) to make it optional");
        }
        else if (required)
        {
            throw new UserError($"{_source}:{at.Line}:{at.Column}: required include '{name}' is relative but this text has no directory. HINT: parse the config from a file or use an absolute path");
        }
        foreach (string file in candidates)
        {
            if (_includeChain.Contains(file, StringComparer.Ordinal))
                throw new UserError($"{_source}:{at.Line}:{at.Column}: include cycle: {string.Join(" -> ", _includeChain.Append(file))}. HINT: remove one of these includes");
            string text;
            try { text = File.ReadAllText(file); }
            catch (IOException e) { throw new UserError($"{_source}:{at.Line}: cannot read included file {file}: {e.Message}. HINT: check the file's permissions"); }
            yield return ParseDocument(text, file, Path.GetDirectoryName(file), [.. _prefix, .. path], [.. _includeChain, file]);
        }
    }
}

/// <summary>The three kinds of value concatenation: strings, lists, objects.</summary>
internal static class Concatenation
{
    /// <summary>Joins resolved parts (no substitutions left). Whitespace parts only matter between simple values.</summary>
    public static HoconValue Join(IReadOnlyList<HoconValue> parts, HoconOrigin origin)
    {
        var list = parts.ToList();
        while (list.Count > 0 && list[0] is HoconScalar { IsWhitespace: true }) list.RemoveAt(0);
        while (list.Count > 0 && list[^1] is HoconScalar { IsWhitespace: true }) list.RemoveAt(list.Count - 1);
        if (list.Count == 1) return list[0];
        if (list.Any(p => p is HoconObject or HoconArray))
        {
            var solid = list.Where(p => p is not HoconScalar { IsWhitespace: true }).ToList();
            // Where a list is expected, an object with numeric keys counts as a list (spec: numerically-indexed objects).
            if (solid.Any(p => p is HoconArray))
                for (int i = 0; i < solid.Count; i++)
                    if (solid[i] is HoconObject o && NumericallyIndexed.ToArray(o) is { } asArray) solid[i] = asArray;
            HoconValue first = solid[0];
            foreach (HoconValue p in solid)
                if (p.GetType() != first.GetType())
                    throw new UserError($"{p.Origin}: cannot concatenate {first.KindName} with {p.KindName}. " +
                        "HINT: values on one line are joined; lists join with lists, objects with objects, strings with strings; put a comma or newline between separate elements");
            if (first is HoconArray)
                return new HoconArray(solid.SelectMany(a => ((HoconArray)a).Items).ToList(), first.Origin);
            HoconObject merged = (HoconObject)first;
            foreach (HoconValue p in solid.Skip(1)) merged = HoconMerging.MergeObjects(merged, (HoconObject)p);
            return merged;
        }
        var sb = new StringBuilder();
        foreach (HoconValue p in list) sb.Append(((HoconScalar)p).Text);
        return new HoconScalar(HoconScalarKind.String, sb.ToString(), origin);
    }
}

/// <summary>The spec's conversion of objects such as <c>{ "0" : a, "1" : b }</c> to lists, done only where a list is expected.</summary>
internal static class NumericallyIndexed
{
    /// <summary>The values under non-negative integer keys, in key order; null when there are none.</summary>
    public static HoconArray? ToArray(HoconObject o)
    {
        var indexed = new List<(long Index, HoconValue Value)>();
        foreach (string k in o.Keys)
            if (k.Length > 0 && k.All(char.IsAsciiDigit) && long.TryParse(k, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long index))
                indexed.Add((index, o[k]));
        if (indexed.Count == 0) return null;
        return new HoconArray(indexed.OrderBy(e => e.Index).Select(e => e.Value).ToList(), o.Origin);
    }
}
