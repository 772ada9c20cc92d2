using ImageGpt.Actors.Sweep;
using ImageGpt.Actors.Tests.Support;
using ImageGpt.Nn;

namespace ImageGpt.Actors.Tests.Sweep;

/// <summary>Finding the swept setting among the --set overrides, and the one-line refusals of what cannot be swept.</summary>
public sealed class SweepSpecTests
{
    private static SweepSpec Find(params string[] sets) => SweepSpec.Find(sets, TestRuns.Reference);

    [Fact]
    public void The_one_list_is_the_sweep_kept_as_written_in_the_order_given()
    {
        var spec = Find("model.layers=2", "train.lr=[0.01, 3e-3,0.001 ,0.0003]", "train.steps=40");
        Assert.Equal("train.lr", spec.Key);
        Assert.Equal(["0.01", "3e-3", "0.001", "0.0003"], spec.Values);
        Assert.Equal(1, spec.SetIndex);
        Assert.Equal("lr-3e-3", spec.Name(1));
        Assert.Equal(["model.layers=2", "train.lr=3e-3", "train.steps=40"], spec.SetsFor(["model.layers=2", "train.lr=[0.01, 3e-3,0.001 ,0.0003]", "train.steps=40"], 1));
    }

    [Fact]
    public void A_list_given_to_a_list_setting_is_an_override_not_a_sweep()
    {
        var spec = Find("eval.probe.grid=[0.1,1]", "train.warmup=[10,20]");
        Assert.Equal("train.warmup", spec.Key);
        Assert.Equal(["10", "20"], spec.Values);
    }

    [Theory]
    [InlineData(new[] { "train.lr=0.01" }, "no --set gives a list of values to sweep. HINT: sweep one numeric setting, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,0.001]", "train.warmup=[1,2]" }, "--set 'train.lr=[0.01,0.001]' and --set 'train.warmup=[1,2]' both give lists; a sweep varies one setting at a time. HINT: sweep one of them and fix the other with a plain --set")]
    [InlineData(new[] { "train.lr=[]" }, "--set 'train.lr=[]' is an empty list: nothing to sweep. HINT: give at least one value, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,0.003" }, "--set 'train.lr=[0.01,0.003' is not a list [a,b,...]. HINT: write the values in brackets, separated by commas, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,fast]" }, "'fast' in --set 'train.lr=[0.01,fast]' is not a number. HINT: write numbers separated by commas, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,,0.001]" }, "'' in --set 'train.lr=[0.01,,0.001]' is not a number. HINT: write numbers separated by commas, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,NaN]" }, "'NaN' in --set 'train.lr=[0.01,NaN]' is not a number. HINT: write numbers separated by commas, e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "train.lr=[0.01,1e-2]" }, "--set 'train.lr=[0.01,1e-2]' gives the value 1e-2 twice (0.01 and 1e-2). HINT: list each value once")]
    [InlineData(new[] { "model.objective=[1,2]" }, "--set 'model.objective=[1,2]': 'model.objective' is a string in hocon/reference.conf, not a number; a sweep varies a numeric setting. HINT: e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    [InlineData(new[] { "model=[1,2]" }, "--set 'model=[1,2]': 'model' is an object in hocon/reference.conf, not a number; a sweep varies a numeric setting. HINT: e.g. --set train.lr=[0.01,0.003,0.001,0.0003]")]
    public void What_cannot_be_swept_is_refused_in_one_line(string[] sets, string expected)
    {
        var e = Assert.Throws<UserError>(() => Find(sets));
        Assert.Equal(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_unknown_key_is_left_to_the_config_loader_which_names_it()
    {
        // The loader's own check (CheckKnownKeys) names the key and the closest one when the value's config is read.
        var spec = Find("train.lrr=[0.01,0.001]");
        Assert.Equal("train.lrr", spec.Key);
    }
}
