using ImageGpt.Actors.Runtime;

namespace ImageGpt.Actors.Tests.Runtime;

public sealed class ActorPathTests
{
    [Fact]
    public void A_path_prints_like_akka_with_the_imagegpt_scheme()
    {
        ActorPath p = ActorPath.Root("sys").Child("user").Child("a").Child("b", 42);
        Assert.Equal("imagegpt://sys/user/a/b", p.ToString());
        Assert.Equal("imagegpt://sys/user/a/b#42", p.ToStringWithUid());
        Assert.Equal("b", p.Name);
        Assert.Equal("imagegpt://sys/user/a", p.Parent!.ToString());
        Assert.Equal("imagegpt://sys/", ActorPath.Root("sys").ToString());
    }

    [Fact]
    public void Parsing_a_printed_path_gives_back_the_same_path_and_uid()
    {
        ActorPath p = ActorPath.Parse("imagegpt://sys/user/trainers/trainer-0#7");
        Assert.Equal(ActorPath.Root("sys").Child("user").Child("trainers").Child("trainer-0"), p);
        Assert.Equal(7, p.Uid);
        Assert.Equal(["user", "trainers", "trainer-0"], p.Elements);
    }

    [Fact]
    public void Paths_are_equal_regardless_of_uid_but_not_across_systems()
    {
        ActorPath a = ActorPath.Root("s").Child("user").Child("x", 1);
        Assert.Equal(a, ActorPath.Root("s").Child("user").Child("x", 2));
        Assert.Equal(a.GetHashCode(), ActorPath.Root("s").Child("user").Child("x", 2).GetHashCode());
        Assert.NotEqual(a, ActorPath.Root("t").Child("user").Child("x", 1));
    }

    [Fact]
    public void A_path_with_another_scheme_is_rejected() =>
        Assert.Throws<ArgumentException>(() => ActorPath.Parse("akka://sys/user/a"));
}
