using Akka.Actor;
using ImageGpt.Actors.DataPlane;

namespace ImageGpt.Actors.Tests.DataPlane;

/// <summary>What the actors send each other about a transfer is small and survives Akka's serializer.</summary>
public sealed class TicketSerializationTests
{
    [Fact]
    public void Tickets_endpoints_and_lanes_round_trip_through_akkas_serializer_in_well_under_a_kilobyte()
    {
        using var system = ActorSystem.Create("tickets", "akka.loglevel = WARNING");
        object[] messages =
        [
            new TensorTicket("10.0.0.7", 42017, "params/step-1234", 76_000_000, 0xE3069283),
            new DataPlaneEndpoint("10.0.0.7", 42017),
            new BatchStreamRequest(8, [1, 5], FromStep: 120, ToStep: 5000, Prefetch: 4),
        ];
        foreach (object m in messages)
        {
            var serializer = system.Serialization.FindSerializerFor(m);
            byte[] bytes = serializer.ToBinary(m);
            Assert.True(bytes.Length < 512, $"{m.GetType().Name} takes {bytes.Length} bytes");
            object back = serializer.FromBinary(bytes, m.GetType());
            if (m is BatchStreamRequest lane)
            {
                var got = Assert.IsType<BatchStreamRequest>(back);
                Assert.Equal(lane.Shards, got.Shards);
                Assert.Equal(lane with { Shards = got.Shards }, got);
            }
            else Assert.Equal(m, back);
        }
    }
}
