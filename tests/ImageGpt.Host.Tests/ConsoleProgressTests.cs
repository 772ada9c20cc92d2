using ImageGpt.Actors.Training;

namespace ImageGpt.Host.Tests;

/// <summary>Progress on a terminal (Spectre.Console's bar) and when redirected (plain lines).</summary>
public sealed class ConsoleProgressTests
{
    private static StepReport Report(long step) => new(step, 100, 0, 2.0f, 0.5f, 1e-3f, 45_200, 0.01, 0.9, step * 0.1, 0.312);

    [Fact]
    public void On_a_terminal_a_bar_shows_step_loss_tokens_per_second_and_eta_with_other_lines_above_it()
    {
        var output = new StringWriter();
        using (var progress = new ConsoleProgress(output, interactive: true, every: 10))
        {
            progress.Step(Report(40));
            progress.Warning("trainer-1 failed: injected");
            progress.CheckpointSaved(40, 0.25, final: false);
        }
        string text = output.ToString();
        Assert.Contains("step 40/100 | loss 2.0000 | 45.2k tok/s, MFU 31% | eta 0m06s", text);
        Assert.Contains("━", text);
        Assert.Contains("40%", text);
        Assert.Contains("warning: trainer-1 failed: injected", text);
        Assert.Contains("checkpoint step 40 saved (0.25 s)", text);
        Assert.Contains("\u001b[", text);
    }

    [Fact]
    public void Redirected_it_prints_a_plain_line_every_N_steps_and_no_escape_codes()
    {
        var output = new StringWriter();
        using (var progress = new ConsoleProgress(output, interactive: false, every: 10))
        {
            for (long s = 1; s <= 20; s++) progress.Step(Report(s));
            progress.Warning("w");
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("step 10/100 (10.0%) epoch 0 | loss 2.0000 (2.885 bits)", lines[0]);
        Assert.StartsWith("step 20/100", lines[1]);
        Assert.Contains("| 45.2k tok/s, MFU 31.2% |", lines[1]);
        Assert.Equal("warning: w", lines[2]);
        Assert.DoesNotContain("\u001b", output.ToString());
    }
}
