using System.Globalization;
using System.Text.Json;
using ImageGpt.Actors.Configuration;
using ImageGpt.Actors.Sweep;

namespace ImageGpt.Host.Commands;

/// <summary>
/// sweep.json and sweep.csv in the sweep's directory: every value in the order given, its run, the step its loss was
/// measured at, the validation loss in nats and bits per token (empty/null when not finished or diverged), and the choice.
/// </summary>
internal static class SweepFiles
{
    public const string Json = "sweep.json";
    public const string Csv = "sweep.csv";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>The sweep's directory that <paramref name="dir"/> is, or holds a value's folder as; null when neither.</summary>
    public static string? SweepDirectoryOf(string dir)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (File.Exists(Path.Combine(full, Json))) return full;
        string? parent = Path.GetDirectoryName(full);
        return parent is not null && File.Exists(Path.Combine(parent, Json)) ? parent : null;
    }

    /// <summary>Writes both files (each through a temporary file and a rename); returns their paths.</summary>
    public static IReadOnlyList<string> Write(string sweepDir, string sweepId, SweepSpec spec, SweepHistory history, IReadOnlyList<RunConfig> runs, int? choice)
    {
        var ci = CultureInfo.InvariantCulture;
        var rows = runs.Select((run, i) =>
        {
            var done = history.Finished.GetValueOrDefault(i);
            bool measured = done is { Diverged: null } && double.IsFinite(done.ValidationNats);
            return new
            {
                value = spec.Values[i],
                run_id = run.RunId,
                run_dir = run.RunDir,
                step = done?.Step,
                validation_nats = measured ? done!.ValidationNats : (double?)null,
                validation_bits = measured ? done!.ValidationBits : (double?)null,
                diverged = done?.Diverged,
                chosen = i == choice,
            };
        }).ToList();
        var document = new
        {
            sweep_id = sweepId,
            key = spec.Key,
            steps = runs[0].Train.Steps,
            rule = "the first local minimum of validation loss in the order given: the first value with a finite loss that the next value does not improve on",
            chosen = choice is { } c ? spec.Values[c] : null,
            values = rows,
        };
        string json = Path.Combine(sweepDir, Json), csv = Path.Combine(sweepDir, Csv);
        Replace(json, JsonSerializer.Serialize(document, Options) + "\n");
        var lines = new List<string> { "value,validation_nats,validation_bits,step,diverged,chosen,run_id" };
        lines.AddRange(rows.Select(r => string.Join(',',
            r.value, r.validation_nats?.ToString("R", ci) ?? "", r.validation_bits?.ToString("R", ci) ?? "", r.step?.ToString(ci) ?? "",
            r.diverged is null ? "" : "yes", r.chosen ? "yes" : "", r.run_id)));
        Replace(csv, string.Join('\n', lines) + "\n");
        return [json, csv];
    }

    private static void Replace(string path, string text)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}
