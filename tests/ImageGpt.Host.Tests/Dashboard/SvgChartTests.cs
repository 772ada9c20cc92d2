using System.Xml.Linq;
using ImageGpt.Actors.History;
using ImageGpt.Host.Dashboard;

namespace ImageGpt.Host.Tests.Dashboard;

/// <summary>The server-rendered charts: valid SVG, round ticks, points placed by their values, thinning that keeps the ends.</summary>
public sealed class SvgChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Theory]
    [InlineData(0.0, 1.0, new[] { 0.0, 0.2, 0.4, 0.6, 0.8, 1.0 })]
    [InlineData(1.53, 4.02, new[] { 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5 })]
    [InlineData(0.0, 5000.0, new[] { 0.0, 1000, 2000, 3000, 4000, 5000 })]
    [InlineData(56.6, 79.0, new[] { 55.0, 60, 65, 70, 75, 80 })]
    public void Ticks_are_one_two_or_five_times_a_power_of_ten_and_cover_the_range(double lo, double hi, double[] expected) =>
        Assert.Equal(expected, SvgChart.Ticks(lo, hi));

    [Fact]
    public void A_chart_without_points_says_so()
    {
        var doc = XDocument.Parse(SvgChart.Render("t", "x", "y", [new ChartSeries("a", [], "#000")]));
        Assert.Equal("nothing to draw yet", doc.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "empty").Value);
    }

    [Fact]
    public void Points_are_placed_by_value_inside_the_plot_with_higher_values_higher_up()
    {
        var doc = XDocument.Parse(SvgChart.Render("t", "x", "y", [new ChartSeries("a", [(0, 1), (10, 3), (20, 2)], "#123456", Markers: true)]));
        var circles = doc.Descendants(Svg + "circle").Select(c => (X: (double)c.Attribute("cx")!, Y: (double)c.Attribute("cy")!)).ToList();
        Assert.Equal(3, circles.Count);
        Assert.True(circles[0].X < circles[1].X && circles[1].X < circles[2].X);
        Assert.True(circles[1].Y < circles[2].Y && circles[2].Y < circles[0].Y);
        var frame = doc.Descendants(Svg + "rect").Skip(1).First();
        double left = (double)frame.Attribute("x")!, top = (double)frame.Attribute("y")!;
        double right = left + (double)frame.Attribute("width")!, bottom = top + (double)frame.Attribute("height")!;
        Assert.All(circles, c => Assert.True(c.X >= left && c.X <= right && c.Y >= top && c.Y <= bottom));
    }

    [Fact]
    public void Names_are_escaped()
    {
        string svg = SvgChart.Render("<b>", "x", "y", [new ChartSeries("a&b", [(0, 1), (1, 2)], "#000")]);
        XDocument.Parse(svg);
        Assert.Contains("a&amp;b", svg);
        Assert.DoesNotContain("<b>", svg);
    }

    [Fact]
    public void Thinning_keeps_at_most_the_limit_evenly_and_always_the_last_point()
    {
        var points = Enumerable.Range(1, 5000).Select(i => new LossPoint(i, 1.0 / i)).ToList();
        var thin = RunCharts.Thin(points, 600);
        Assert.Equal(600, thin.Count);
        Assert.Equal(1, thin[0].Step);
        Assert.Equal(5000, thin[^1].Step);
        Assert.True(thin.Zip(thin.Skip(1)).All(p => p.Item1.Step < p.Item2.Step));
        Assert.Same(points, RunCharts.Thin(points, 5000));
    }

    [Fact]
    public void The_probe_chart_draws_the_layers_by_name_and_skips_evaluations_without_a_probe()
    {
        var at = DateTimeOffset.UnixEpoch;
        EvaluationRecorded Eval(long step, params double[] acc) => new(step, 2, 3, acc.Select((a, i) => new ProbeRow(i == acc.Length - 1 ? $"{i} (ln_f)" : $"{i}", 1, a, a)).ToList(),
            null, null, 1, [], at);
        var doc = XDocument.Parse(RunCharts.Probe([Eval(0, 0.5, 0.6, 0.55), Eval(10), Eval(20, 0.6, 0.7, 0.65)]));
        Assert.Equal(["step 0", "step 20"], doc.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "series").Select(g => (string)g.Attribute("data-name")!));
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "2 (ln_f)");
    }
}
