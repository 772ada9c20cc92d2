using ImageGpt.Actors.Training;
using ImageGpt.Host.Dashboard;
using ImageGpt.Nn.Model;

namespace ImageGpt.Host.Tests.Dashboard;

public sealed class ProgressReadingTests
{
    private static StepReport Report(double mfu) => new(10, 100, 0, 2f, 0.5f, 1e-3f, 4000, 0, 0.9, 1, mfu);

    [Fact]
    public void Mfu_is_the_step_reports_own_when_it_has_one()
    {
        var shape = new RunShape(6272, 3.5e6, 2);
        Assert.Equal(0.3125, ProgressReading.Build("r", null, Report(0.3125), shape, live: true, history: null).Mfu);
    }

    [Fact]
    public void Without_one_it_is_computed_from_the_runs_shape_and_without_known_cores_it_is_absent()
    {
        var fromShape = ProgressReading.Build("r", null, Report(double.NaN), new RunShape(6272, 3.5e6, 2), live: false, history: null).Mfu;
        Assert.Equal(Mfu.Of(3.5e6, 4000, 2), fromShape);
        Assert.Null(ProgressReading.Build("r", null, Report(double.NaN), new RunShape(6272, 3.5e6, 0), live: false, history: null).Mfu);
        Assert.Null(ProgressReading.Build("r", null, null, null, live: false, history: null).Mfu);
    }
}
