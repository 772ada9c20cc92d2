using ImageGpt.Actors.Configuration;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Configuration;

/// <summary>Substitution cases from the HOCON spec's "Substitutions" and "Self-Referential Substitutions" sections.</summary>
public class HoconSubstitutionTests
{
    private static string Json(string hocon) => HoconSyntaxTests.Json(hocon);

    private static string Json(string hocon, Dictionary<string, string> env) =>
        ConfigFactory.ParseString(hocon, "test.conf").Resolve(n => env.GetValueOrDefault(n)).ToJson(indented: false, sortKeys: true);

    [Fact]
    public void ASubstitutionAloneKeepsItsTypeAndLooksForward()
    {
        Assert.Equal("""{"a":{"x":1},"b":{"x":1},"c":[1,2],"d":[1,2],"e":null,"f":null}""",
            Json("b = ${a}\na = { x = 1 }\nd = ${c}\nc = [1, 2]\nf = ${e}\ne = null"));
    }

    [Fact]
    public void SubstitutionsInAConcatenationBecomeStrings()
    {
        Assert.Equal("""{"animal":{"favorite":"cat"},"k1":"cat is my favorite animal","k2":"cat is my favorite animal","n":"3 apples"}""",
            Json("animal.favorite = cat\nk1 : ${animal.favorite} is my favorite animal\nk2 : ${animal.favorite}\" is my favorite animal\"\nx = 3\nn = ${x} apples")
                .Replace(",\"x\":3", ""));
    }

    [Fact]
    public void AnObjectMayReferToAFieldInsideItself()
    {
        Assert.Equal("""{"bar":{"baz":42,"foo":42}}""", Json("bar : { foo : 42,\n baz : ${bar.foo}\n }"));
        Assert.Equal("""{"bar":{"baz":43,"foo":43}}""", Json("bar : { foo : 42,\n baz : ${bar.foo}\n }\nbar : { foo : 43 }"));
    }

    [Fact]
    public void MutuallyReferringObjectsLookForward()
    {
        string json = Json("bar : { a : ${foo.d}, b : 1 }\nbar.b = 3\nfoo : { c : ${bar.b}, d : 2 }\nfoo.d = 4");
        Assert.Equal("""{"bar":{"a":4,"b":3},"foo":{"c":3,"d":4}}""", json);
    }

    [Fact]
    public void ASelfReferenceSeesTheValueItOverrides()
    {
        Assert.Equal("""{"path":"a:b:c:d"}""", Json("path : \"a:b:c\"\npath : ${path}\":d\""));
        Assert.Equal("""{"a":"xy"}""", Json("a = x\na = ${a} \"y\"".Replace(" \"y\"", "\"y\"")));
        Assert.Equal("""{"a":"x y"}""", Json("a = x\na = ${a} \"y\""));
        Assert.Equal("""{"foo":{"a":1}}""", Json("foo : { a : 1 }\nfoo : ${foo}"));
    }

    [Fact]
    public void SelfReferentialArrayAndObjectConcatenation()
    {
        Same("a : [ 1, 2, 3, 4 ]", "a : [ 1, 2 ]\na : ${a} [ 3, 4 ]");
        Same("path = [ /bin, /usr/bin ]", "path = [ /bin ]\npath = ${path} [ /usr/bin ]");
        Assert.Equal("""{"data-center-east":{"cluster-size":6,"name":"east"},"data-center-generic":{"cluster-size":6}}""",
            Json("data-center-generic = { cluster-size = 6 }\ndata-center-east = ${data-center-generic} { name = \"east\" }"));
    }

    [Fact]
    public void ASelfReferenceBeforeAnyValueIsAnErrorEvenIfAnObjectFollows()
    {
        var e = Assert.Throws<UserError>(() => Json("foo : ${foo}\nfoo : { a : 1 }"));
        Assert.StartsWith("test.conf:1: substitution ${foo} is circular", e.Message);
    }

    [Fact]
    public void ASelfReferenceInsideAPathExpressionResolvesToTheValueBelow()
    {
        Assert.Equal("""{"foo":{"a":2,"c":1}}""", Json("foo : { a : { c : 1 } }\nfoo : ${foo.a}\nfoo : { a : 2 }"));
    }

    [Fact]
    public void AHiddenSubstitutionIsNeverEvaluated()
    {
        Assert.Equal("""{"foo":42}""", Json("foo : ${does-not-exist}\nfoo : 42"));
        Assert.Equal("""{"foo":42}""", Json("foo : ${foo}, foo : 42"));
    }

    [Fact]
    public void OptionalSubstitutionsThatAreUndefinedDisappear()
    {
        Assert.Equal("{}", Json("foo : ${?bar}"));
        Assert.Equal("{}", Json("foo : ${?bar}${?baz}"));
        Assert.Equal("""{"foo":1}""", Json("foo : 1\nfoo : ${?bar}"));
        Assert.Equal("""{"a":"foo"}""", Json("a = ${?a}foo"));
        Assert.Equal("{}", Json("foo : ${?foo}"));
        Assert.Equal("""{"a":[1,3]}""", Json("a = [1, ${?nope}, 3]"));
        Assert.Equal("""{"a":[1]}""", Json("a = ${?nope} [1]"));
    }

    [Fact]
    public void PlusEqualsAppendsToAListOrStartsOne()
    {
        Assert.Equal("""{"a":["b"]}""", Json("a += b"));
        Assert.Equal("""{"a":[1,2,3]}""", Json("a = [1]\na += 2\na += 3"));
        Assert.Equal("""{"x":{"a":[1,2]}}""", Json("x { a = [1] }\nx { a += 2 }"));
        var e = Assert.Throws<UserError>(() => Json("a = 1\na += 2"));
        Assert.Contains("cannot concatenate a number with a list", e.Message);
    }

    [Fact]
    public void UndefinedRequiredSubstitutionIsAnErrorNamingTheLine()
    {
        var e = Assert.Throws<UserError>(() => Json("a = 1\nb = ${nope.x}"));
        Assert.StartsWith("test.conf:2: substitution ${nope.x} is undefined", e.Message);
        Assert.Contains("HINT:", e.Message);
    }

    [Fact]
    public void AMissingKeyUnderAnEarlierValueIsReportedAsUndefinedNotAsACycle()
    {
        var e = Assert.Throws<UserError>(() => Json("a = { x : 1 }\na = ${a.y} { z : 1 }"));
        Assert.StartsWith("test.conf:2: substitution ${a.y} is undefined", e.Message);
    }

    [Theory]
    [InlineData("foo : ${foo}")]
    [InlineData("bar : ${foo}\nfoo : ${bar}")]
    [InlineData("a : ${b}\nb : ${c}\nc : ${a}")]
    public void CyclesWithoutAnEarlierValueAreErrors(string hocon)
    {
        var e = Assert.Throws<UserError>(() => Json(hocon));
        Assert.Contains("is circular", e.Message);
    }

    [Theory]
    [InlineData("a : { b : ${a} }")]
    [InlineData("a : [${a}]")]
    public void AnObjectOrListContainingItselfIsAnUnbreakableCycle(string hocon)
    {
        var e = Assert.Throws<UserError>(() => Json(hocon));
        Assert.Contains("contains itself", e.Message);
    }

    [Fact]
    public void TwoFieldsReferringToEachOtherGetTheSameValue()
    {
        string json = Json("a : 1\nb : 2\na : ${b}\nb : ${a}");
        Assert.True(json is """{"a":1,"b":1}""" or """{"a":2,"b":2}""", json);
    }

    [Fact]
    public void UnresolvedSubstitutionsFallBackToEnvironmentVariablesButNullBlocksThem()
    {
        var env = new Dictionary<string, string> { ["HOME"] = "/home/me", ["EMPTY"] = "" };
        Assert.Equal("""{"h":"/home/me","p":"/home/me/x"}""", Json("h = ${HOME}\np = ${HOME}/x", env));
        Assert.Equal("""{"HOME":null,"h":null}""", Json("HOME = null\nh = ${HOME}", env));
        Assert.Equal("""{"e":""}""", Json("e = ${?EMPTY}", env));
        Assert.Equal("""{"HOME":"/home/me/bin"}""", Json("HOME = ${HOME}/bin", env));
    }

    [Fact]
    public void SubstitutionsResolveAfterLayeringSoTheUserFileCanChangeWhatReferenceDerives()
    {
        Config reference = ConfigFactory.ParseString("model { width = 64, heads = 4, head-dim = ${model.width} }\ntrain { tags = [base] }", "reference.conf");
        Config user = ConfigFactory.ParseString("model.width = 128\ntrain.tags = ${train.tags} [big]", "user.conf");
        Config merged = user.WithFallback(reference).Resolve(_ => null);
        Assert.Equal("""{"model":{"head-dim":128,"heads":4,"width":128},"train":{"tags":["base","big"]}}""", merged.ToJson(false, sortKeys: true));
    }

    [Fact]
    public void FallbackMergingFollowsTheSpecsPairwiseRule()
    {
        Config a = ConfigFactory.ParseString("a : { x : 1 }", "1"), b = ConfigFactory.ParseString("a : 42", "2"), c = ConfigFactory.ParseString("a : { y : 2 }", "3");
        Assert.Equal("""{"a":{"x":1}}""", a.WithFallback(b).WithFallback(c).ToJson(false));
        Assert.Equal("""{"a":{"x":1,"y":2}}""", a.WithFallback(c).WithFallback(b).ToJson(false, sortKeys: true));
    }

    [Fact]
    public void ASelfReferenceInsideAnObjectConcatenationSeesTheOverriddenField()
    {
        Assert.Equal("""{"a":{"x":[1,2],"y":1}}""", Json("a = { x = [1], y = 1 }\na = ${a} { x = ${a.x} [2] }"));
    }

    [Fact]
    public void NumericallyIndexedObjectsConcatenateAsLists()
    {
        Assert.Equal("""{"a":["x","y","z"]}""", Json("a = { \"1\" : y, \"0\" : x, n : w }\na = ${a} [z]"));
    }

    private static void Same(string expected, string hocon) => HoconSyntaxTests.Same(expected, hocon);
}
