using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class EventStreamTests : RuntimeTestBase
{
    private record Animal(string Name);
    private sealed record Dog(string Name) : Animal(Name);

    [Fact]
    public async Task A_subscriber_to_a_base_type_receives_events_of_derived_types()
    {
        var animals = CreateProbe();
        var dogs = CreateProbe();
        Sys.EventStream.Subscribe(animals, typeof(Animal));
        Sys.EventStream.Subscribe(dogs, typeof(Dog));
        Sys.EventStream.Publish(new Animal("cat"));
        Sys.EventStream.Publish(new Dog("rex"));
        await animals.ExpectMsgAsync(new Animal("cat"), Wait);
        await animals.ExpectMsgAsync<Animal>(new Dog("rex"), Wait);
        await dogs.ExpectMsgAsync(new Dog("rex"), Wait);
        await dogs.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task After_unsubscribing_no_more_events_arrive()
    {
        var probe = CreateProbe();
        Assert.True(Sys.EventStream.Subscribe(probe, typeof(Animal)));
        Assert.False(Sys.EventStream.Subscribe(probe, typeof(Animal)));
        Assert.True(Sys.EventStream.Unsubscribe(probe, typeof(Animal)));
        Sys.EventStream.Publish(new Animal("cat"));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_stopped_actor_is_unsubscribed_from_everything()
    {
        var probe = CreateProbe();
        var echo = Sys.ActorOf(Props.Create<EchoActor>());
        Sys.EventStream.Subscribe(echo, typeof(Animal));
        probe.Watch(echo);
        Sys.Stop(echo);
        await probe.ExpectTerminatedAsync(echo, Wait);
        long before = Sys.DeadLetterCount;
        Sys.EventStream.Publish(new Animal("cat"));
        Assert.Equal(before, Sys.DeadLetterCount);
    }
}
