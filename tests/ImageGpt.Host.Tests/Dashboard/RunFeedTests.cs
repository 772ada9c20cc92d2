using ImageGpt.Actors.Training;
using ImageGpt.Host.Dashboard;

namespace ImageGpt.Host.Tests.Dashboard;

public sealed class RunFeedTests
{
    private static StepReport Report(long step) => new(step, 1_000_000, 0, 1f / step, 0, 0, 0, 0, 0, 0, 0);

    [Fact]
    public void The_curve_keeps_every_step_until_it_is_full_then_thins_evenly_and_always_ends_at_the_last_step()
    {
        var feed = new RunFeed();
        for (long s = 1; s <= 100; s++) feed.Step(Report(s));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), feed.Loss().Select(p => p.Step));
        Assert.Equal(1f / 37, feed.Loss()[36].Nats, 6);

        for (long s = 101; s <= 100_003; s++) feed.Step(Report(s));
        var loss = feed.Loss();
        Assert.InRange(loss.Count, RunFeed.MaxPoints / 2, RunFeed.MaxPoints);
        long stride = loss[1].Step - loss[0].Step;
        Assert.True(stride > 1 && (stride & (stride - 1)) == 0, $"stride {stride}");
        Assert.All(loss.Zip(loss.Skip(1)).SkipLast(1), p => Assert.Equal(stride, p.Item2.Step - p.Item1.Step));
        Assert.Equal(100_003, loss[^1].Step);
        Assert.Equal(100_003, feed.Last!.Step);
    }
}
