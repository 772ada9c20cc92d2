using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>Syntax cases from the HOCON spec (Lightbend config, HOCON.md), compared as canonical JSON.</summary>
public class HoconSyntaxTests
{
    internal static string Json(string hocon) =>
        ConfigFactory.ParseString(hocon, "test.conf").Resolve(_ => null).ToJson(indented: false, sortKeys: true);

    internal static void Same(string expected, string hocon) => Assert.Equal(Json(expected), Json(hocon));

    [Fact]
    public void PlainJsonGivesTheSameTreeAsAJsonParser()
    {
        string json = """{ "a" : 1, "b" : [true, false, null, "x\ty\u0041"], "c" : { "d" : -1.5e3 }, "e" : {} }""";
        Assert.Equal("""{"a":1,"b":[true,false,null,"x\tyA"],"c":{"d":-1.5e3},"e":{}}""", Json(json));
    }

    [Fact]
    public void RootBracesCanBeOmittedAndEqualsReplacesColon()
    {
        Same("""{ "foo" : { "bar" : 10 }, "baz" : "x" }""", "foo { bar = 10 }\nbaz : x");
    }

    [Fact]
    public void CommentsWithHashAndDoubleSlashAreIgnoredButNotInsideQuotes()
    {
        Assert.Equal("""{"a":1,"b":"# not // a comment","c":"x"}""",
            Json("a = 1 # one\n// whole line\nb = \"# not // a comment\"\nc = x// trailing"));
    }

    [Fact]
    public void NewlinesSeparateElementsAndASingleTrailingCommaIsIgnored()
    {
        Assert.Equal(Json("a = [1,2,3]"), Json("a = [1,2,3,]"));
        Assert.Equal(Json("a = [1,2,3]"), Json("a = [1\n2\n3]"));
        Same("{ a : 1, b : 2 }", "a : 1\nb : 2,\n");
    }

    [Theory]
    [InlineData("a = [1,2,3,,]", 1, 12)]
    [InlineData("a = [,1,2,3]", 1, 6)]
    [InlineData("a = [1,,2,3]", 1, 8)]
    [InlineData("a = 1,,\nb = 2", 1, 7)]
    public void InvalidCommasAreErrorsAtTheirPosition(string hocon, int line, int column)
    {
        var e = Assert.Throws<UserError>(() => Json(hocon));
        Assert.StartsWith($"test.conf:{line}:{column}: expected ", e.Message);
        Assert.Contains("found ','", e.Message);
    }

    [Fact]
    public void CarriageReturnsNonBreakingSpacesAndTheByteOrderMarkAreWhitespace()
    {
        Same("{ a : 1, b : \"x\u202Fy\" }", "\uFEFFa = 1\r\nb\u00A0=\u2007x\u202Fy\u001F\r\n");
    }

    [Fact]
    public void DuplicateObjectKeysMergeAndOtherDuplicatesReplace()
    {
        Same("""{ "foo" : { "a" : 42, "b" : 43 } }""", """{ "foo" : { "a" : 42 }, "foo" : { "b" : 43 } }""");
        Same("""{ "foo" : { "b" : 43 } }""", """{ "foo" : { "a" : 42 }, "foo" : null, "foo" : { "b" : 43 } }""");
        Same("{ a : 2 }", "a : 1, a : 2");
    }

    [Fact]
    public void UnquotedStringsStopAtForbiddenCharactersAndStartWithBooleansOrNumbers()
    {
        Assert.Equal("""{"a":"truefoo","b":"footrue","c":"10.0bar","d":"bar10.0","e":true,"f":10.0}""",
            Json("a = truefoo, b = footrue, c = 10.0bar, d = bar10.0, e = true, f = 10.0"));
        Assert.Equal("""{"a":"/usr/local/bin","b":"x-y_z"}""", Json("a = /usr/local/bin, b = x-y_z"));
    }

    [Fact]
    public void StringConcatenationKeepsInnerWhitespaceAndTrimsTheEnds()
    {
        Assert.Equal(Json("a = \"foo bar baz\""), Json("a =   foo bar baz   "));
        Assert.Equal("""{"a":"true foo","b":"1 2 3 4","c":"x1e5"}""", Json("a = true foo\nb = 1 2 3 4\nc = x1e5"));
        Assert.Equal("""{"a":["1 2 3 4"],"b":[1,2,3,4]}""", Json("a = [ 1 2 3 4 ]\nb = [ 1\n 2\n 3\n 4 ]"));
    }

    [Fact]
    public void ArraysAndObjectsConcatenateWhenOnlySpacesSeparateThem()
    {
        Same("a : { b : 1, c : 2 }", "a : { b : 1 } { c : 2 }");
        Same("a : { b : 1, c : 2 }", "a : { b : 1 }\na : { c : 2 }");
        Same("a : [ 1, 2, 3, 4 ]", "a : [ 1, 2 ] [ 3, 4 ]");
        Assert.Equal("""{"a":[[1,2,3,4]],"b":[[1,2],[3,4]]}""", Json("a = [ [ 1, 2 ] [ 3, 4 ] ]\nb = [ [ 1, 2 ]\n [ 3, 4 ] ]"));
    }

    [Fact]
    public void MixingAListWithAStringInOneConcatenationIsAnError()
    {
        var e = Assert.Throws<UserError>(() => Json("a = [1] foo"));
        Assert.Contains("test.conf:1: cannot concatenate a list with a string", e.Message);
    }

    [Fact]
    public void QuotedStringsUseJsonEscapes()
    {
        Assert.Equal("""{"a":"q\"b\\s/n\nu\u0001é"}""", Json("""a = "q\"b\\s\/n\nu\u0001\u00e9" """));
    }

    [Fact]
    public void TripleQuotedStringsSpanLinesWithoutEscapesAndExtraQuotesBelongToTheString()
    {
        Assert.Equal("""{"a":"line1\n  \\n \"q\"","b":"foo\""}""", Json("a = \"\"\"line1\n  \\n \"q\"\"\"\"\nb = \"\"\"foo\"\"\"\""));
    }

    [Fact]
    public void PathKeysExpandIntoNestedObjectsAndMerge()
    {
        Same("foo { bar : 42 }", "foo.bar : 42");
        Same("foo { bar { baz : 42 } }", "foo.bar.baz : 42");
        Same("a { x : 42, y : 43 }", "a.x : 42, a.y : 43");
        Same("\"a b c\" : 42", "a b c : 42");
        Same("foo { bar { \"hello.world\" : 1 } }", "foo.bar.\"hello.world\" : 1");
    }

    [Fact]
    public void PathKeysAreAlwaysStringsAndDotsInNumbersSplitThem()
    {
        Same("\"true\" : 42", "true : 42");
        Same("\"3\" : 42", "3 : 42");
        Same("\"3\" : { \"14\" : 42 }", "3.14 : 42");
        Same("\"10\" : { \"0foo\" : 1 }", "10.0foo : 1");
        Same("\"foo10\" : { \"0\" : 1 }", "foo10.0 : 1");
        Same("\"foo10.0\" : 1", "foo\"10.0\" : 1");
        Same("\"1\" : { \"2\" : { \"3\" : 1 } }", "1.2.3 : 1");
        Same("a : { \"\" : { b : 1 } }", "a.\"\".b : 1");
    }

    [Theory]
    [InlineData("a..b = 1", 1, 3)]
    [InlineData(".a = 1", 1, 1)]
    public void EmptyUnquotedPathElementsAreErrors(string hocon, int line, int column)
    {
        var e = Assert.Throws<UserError>(() => Json(hocon));
        Assert.StartsWith($"test.conf:{line}:{column}: expected a path element", e.Message);
    }

    [Fact]
    public void IncludeIsOnlySpecialAtTheStartOfAKey()
    {
        Assert.Equal("""{"foo include":42,"include":42,"v":"include","w":["include"]}""",
            Json("foo include : 42\n\"include\" : 42\nv : include\nw : [ include ]"));
    }

    [Fact]
    public void AnObjectValueNeedsNoSeparatorAfterItsKey()
    {
        Same("\"foo\" : {}", "\"foo\" {}");
    }

    [Theory]
    [InlineData("a = 1\nb = 2 }", 2, 7, "',' or a newline after the field", "'}'")]
    [InlineData("{ a = 1", 1, 8, "'}' to close the object opened at line 1", "end of input")]
    [InlineData("a = \"abc\nb = 1", 1, 9, "a closing '\"'", "a newline")]
    [InlineData("a = {\n  b = c\n  d $ e\n}", 3, 5, "'${' to start a substitution", "'$'")]
    [InlineData("a = [1, 2", 1, 10, "']' to close the list opened at line 1", "end of input")]
    [InlineData("a\n= 1", 1, 2, "':', '=' or '{' after the key 'a'", "a newline")]
    [InlineData("a = ", 1, 5, "a value", "end of input")]
    [InlineData("[1, 2]", 1, 1, "an object at the root", "'['")]
    [InlineData("a = x + y", 1, 7, "'+='", "'+'")]
    public void ParseErrorsNameFileLineColumnWhatWasExpectedAndWhatWasFound(string hocon, int line, int col, string expected, string found)
    {
        var e = Assert.Throws<UserError>(() => Json(hocon));
        Assert.StartsWith($"test.conf:{line}:{col}: expected {expected}", e.Message);
        Assert.Contains($"found {found}", e.Message);
    }
}
