using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Configuration;

internal enum TokenKind
{
    Eof, Newline, Whitespace, Comma, Colon, Equals, PlusEquals, OpenBrace, CloseBrace, OpenBracket, CloseBracket,
    Quoted, Unquoted, Number, Boolean, Null, Substitution,
}

/// <summary>
/// One lexical token. <see cref="Text"/> is the decoded string for quoted strings and the source text
/// otherwise; a substitution carries its parsed path in <see cref="Path"/>.
/// </summary>
internal sealed record Token(TokenKind Kind, string Text, int Line, int Column, bool Optional = false, string[]? Path = null)
{
    public string Describe() => Kind switch
    {
        TokenKind.Eof => "end of input",
        TokenKind.Newline => "a newline",
        TokenKind.Whitespace => "whitespace",
        TokenKind.Quoted => $"the quoted string \"{Shorten(Text)}\"",
        TokenKind.Unquoted => $"'{Shorten(Text)}'",
        TokenKind.Number => $"the number {Text}",
        TokenKind.Boolean or TokenKind.Null => $"'{Text}'",
        TokenKind.Substitution => $"the substitution {Text}",
        _ => $"'{Text}'",
    };

    private static string Shorten(string s) => s.Length > 30 ? s[..27] + "..." : s;
}

/// <summary>Splits HOCON text into tokens, keeping whitespace and newlines because they decide concatenation and field separation.</summary>
internal sealed partial class HoconTokenizer(string text, string source)
{
    private int _pos;
    private int _line = 1;
    private int _col = 1;

    // Characters the spec reserves: they end an unquoted string and may not start one.
    private const string Forbidden = "$\"{}[]:=,+#`^?!@*&\\";

    internal static bool IsForbidden(char c) => Forbidden.Contains(c);

    /// <summary>HOCON whitespace: Unicode separators, ASCII control whitespace, the file/group/record/unit separators, and the byte-order mark.</summary>
    internal static bool IsWhitespace(char c) =>
        char.IsWhiteSpace(c) || c is '\u001C' or '\u001D' or '\u001E' or '\u001F' or '\uFEFF';

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumber();

    internal static bool IsJsonNumber(string s) => JsonNumber().IsMatch(s);

    internal static UserError Error(string source, int line, int column, string expected, string found, string? hint = null) =>
        new($"{source}:{line}:{column}: expected {expected}, found {found}. HINT: " +
            (hint ?? "fix the text at that position; HOCON fields look like key = value, separated by commas or newlines"));

    public List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        Token t;
        do
        {
            t = Next();
            tokens.Add(t);
        } while (t.Kind != TokenKind.Eof);
        return tokens;
    }

    private char Peek(int ahead = 0) => _pos + ahead < text.Length ? text[_pos + ahead] : '\0';

    private bool AtEnd(int ahead = 0) => _pos + ahead >= text.Length;

    private char Advance()
    {
        char c = text[_pos++];
        if (c == '\n') { _line++; _col = 1; }
        else _col++;
        return c;
    }

    private Token Next()
    {
        while (true)
        {
            if (AtEnd()) return new Token(TokenKind.Eof, "", _line, _col);
            char c = Peek();
            if (c == '#' || (c == '/' && Peek(1) == '/'))
            {
                while (!AtEnd() && Peek() != '\n') Advance();
                continue;
            }
            int line = _line, col = _col;
            if (c == '\n') { Advance(); return new Token(TokenKind.Newline, "\n", line, col); }
            if (IsWhitespace(c))
            {
                var ws = new StringBuilder();
                while (!AtEnd() && Peek() != '\n' && IsWhitespace(Peek())) ws.Append(Advance());
                return new Token(TokenKind.Whitespace, ws.ToString(), line, col);
            }
            switch (c)
            {
                case '{': Advance(); return new Token(TokenKind.OpenBrace, "{", line, col);
                case '}': Advance(); return new Token(TokenKind.CloseBrace, "}", line, col);
                case '[': Advance(); return new Token(TokenKind.OpenBracket, "[", line, col);
                case ']': Advance(); return new Token(TokenKind.CloseBracket, "]", line, col);
                case ',': Advance(); return new Token(TokenKind.Comma, ",", line, col);
                case ':': Advance(); return new Token(TokenKind.Colon, ":", line, col);
                case '=': Advance(); return new Token(TokenKind.Equals, "=", line, col);
                case '+':
                    if (Peek(1) != '=') throw Error(source, line, col, "'+=' ('+' alone is reserved)", "'+'", "quote strings that contain '+'");
                    Advance(); Advance();
                    return new Token(TokenKind.PlusEquals, "+=", line, col);
                case '$':
                    if (Peek(1) != '{') throw Error(source, line, col, "'${' to start a substitution ('$' alone is reserved)", "'$'", "quote strings that contain '$'");
                    return Substitution(line, col);
                case '"':
                    return Peek(1) == '"' && Peek(2) == '"' ? TripleQuoted(line, col) : Quoted(line, col);
            }
            if (c == '-' || (c >= '0' && c <= '9')) return Number(line, col);
            if (IsForbidden(c))
                throw Error(source, line, col, "a value or key", $"the reserved character '{c}'", "quote strings that contain any of $\"{}[]:=,+#`^?!@*&\\");
            foreach (string word in (ReadOnlySpan<string>)["true", "false", "null"])
                if (string.CompareOrdinal(text, _pos, word, 0, word.Length) == 0)
                {
                    for (int i = 0; i < word.Length; i++) Advance();
                    return new Token(word == "null" ? TokenKind.Null : TokenKind.Boolean, word, line, col);
                }
            return Unquoted(line, col);
        }
    }

    private Token Unquoted(int line, int col)
    {
        var sb = new StringBuilder();
        while (!AtEnd())
        {
            char c = Peek();
            if (IsForbidden(c) || IsWhitespace(c) || (c == '/' && Peek(1) == '/')) break;
            sb.Append(Advance());
        }
        return new Token(TokenKind.Unquoted, sb.ToString(), line, col);
    }

    private Token Number(int line, int col)
    {
        var sb = new StringBuilder();
        while (!AtEnd() && "0123456789eE+-.".Contains(Peek())) sb.Append(Advance());
        string s = sb.ToString();
        // Text like "1.2.3" or "10-20" starts like a number but is not one; it reads as an unquoted string,
        // which keeps "1.2.3" usable as a three-element path.
        return new Token(IsJsonNumber(s) ? TokenKind.Number : TokenKind.Unquoted, s, line, col);
    }

    private Token Quoted(int line, int col)
    {
        Advance();
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd() || Peek() == '\n')
                throw Error(source, _line, _col, "a closing '\"'", AtEnd() ? "end of input" : "a newline", "quoted strings end on the line they start; use \"\"\"...\"\"\" for several lines");
            char c = Advance();
            if (c == '"') break;
            if (c < 0x20)
                throw Error(source, _line, _col - 1, "a character allowed in a quoted string", $"control character U+{(int)c:X4}", "write it as an escape such as \\t");
            if (c != '\\') { sb.Append(c); continue; }
            if (AtEnd()) throw Error(source, _line, _col, "an escape character after '\\'", "end of input");
            int escCol = _col;
            char e = Advance();
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    string hex = _pos + 4 <= text.Length ? text.Substring(_pos, 4) : text[_pos..];
                    if (hex.Length < 4 || !int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        throw Error(source, _line, _col, "four hex digits after \\u", $"'{hex}'");
                    for (int i = 0; i < 4; i++) Advance();
                    sb.Append((char)code);
                    break;
                default:
                    throw Error(source, _line, escCol, "one of the JSON escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX", $"'\\{e}'", "write a backslash as \\\\");
            }
        }
        return new Token(TokenKind.Quoted, sb.ToString(), line, col);
    }

    private Token TripleQuoted(int line, int col)
    {
        Advance(); Advance(); Advance();
        int start = _pos;
        while (true)
        {
            if (AtEnd()) throw Error(source, _line, _col, "a closing '\"\"\"'", "end of input");
            if (Peek() == '"' && Peek(1) == '"' && Peek(2) == '"')
            {
                // Like Scala: a run of more than three quotes ends with its last three; the extra ones belong to the string.
                int run = 0;
                while (Peek(run) == '"') run++;
                int end = _pos + run - 3;
                while (_pos < end) Advance();
                string value = text[start..end];
                Advance(); Advance(); Advance();
                return new Token(TokenKind.Quoted, value, line, col);
            }
            Advance();
        }
    }

    private Token Substitution(int line, int col)
    {
        Advance(); Advance();
        bool optional = false;
        if (Peek() == '?') { Advance(); optional = true; }
        var inner = new List<Token>();
        while (true)
        {
            if (Peek() == '}') { Advance(); break; }
            int l = _line, c = _col;
            Token t = Next();
            if (t.Kind is not (TokenKind.Whitespace or TokenKind.Quoted or TokenKind.Unquoted or TokenKind.Number or TokenKind.Boolean or TokenKind.Null))
                throw Error(source, l, c, "a path expression and '}' to close the substitution", t.Describe());
            inner.Add(t);
        }
        string[] path = HoconPath.FromTokens(inner, source, line, col + 2);
        string shown = (optional ? "${?" : "${") + HoconPath.Render(path) + "}";
        return new Token(TokenKind.Substitution, shown, line, col, optional, path);
    }
}
