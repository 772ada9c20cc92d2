using ImageGpt.Actors.Persistence;

namespace ImageGpt.Actors.Tests.Persistence;

public sealed class SerializerRegistryTests
{
    public sealed record Moved(string Name, int X, int Y);
    public sealed record Renamed(string From, string To);

    [Fact]
    public void A_registered_record_round_trips_through_its_manifest()
    {
        var r = new SerializerRegistry().AddJson<Moved>().AddJson<Renamed>("renamed-v1");
        var (manifest, payload) = r.Serialize(new Renamed("a", "b"));
        Assert.Equal("renamed-v1", manifest);
        Assert.Equal("{\"From\":\"a\",\"To\":\"b\"}", System.Text.Encoding.UTF8.GetString(payload));
        Assert.Equal(new Renamed("a", "b"), r.Deserialize(manifest, payload));
        var (m2, p2) = r.Serialize(new Moved("m", 3, -4));
        Assert.Equal(typeof(Moved).FullName, m2);
        Assert.Equal(new Moved("m", 3, -4), r.Deserialize(m2, p2));
    }

    [Fact]
    public void An_unknown_manifest_or_type_is_refused_with_a_hint()
    {
        var r = new SerializerRegistry().AddJson<Moved>();
        Assert.Contains("HINT", Assert.Throws<SerializationException>(() => r.Deserialize("nope", [])).Message);
        Assert.Contains("AddJson<Renamed>", Assert.Throws<SerializationException>(() => r.Serialize(new Renamed("a", "b"))).Message);
    }

    [Fact]
    public void Bytes_that_are_not_the_registered_type_fail_as_a_serialization_error()
    {
        var r = new SerializerRegistry().AddJson<Moved>("moved");
        Assert.Throws<SerializationException>(() => r.Deserialize("moved", "not json"u8.ToArray()));
    }

    [Fact]
    public void A_manifest_cannot_be_registered_twice()
    {
        var r = new SerializerRegistry().AddJson<Moved>("m");
        Assert.Throws<ArgumentException>(() => r.AddJson<Renamed>("m"));
    }
}
