using System.Globalization;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>One row of a probe results file: one layer (or the raw pixels) of one checkpoint of one run.</summary>
public sealed record ProbeResultRow(string Label, string Checkpoint, long? Step, int TrainImages, int ValImages, int TestImages,
    double ValidationBits, string Layer, double BestC, double ValidationAccuracy, double TestAccuracy)
{
    public bool IsRawPixels => Layer == ProbeResultsFile.RawPixels;

    /// <summary>The probe's image counts, train/validation/test, so a full-data probe is never read as one on subsets.</summary>
    public string Sizes => string.Create(CultureInfo.InvariantCulture, $"{TrainImages}/{ValImages}/{TestImages}");
}

/// <summary>
/// The CSV that `imagegpt probe --results` appends to and `imagegpt chart` reads: a header, then one row per layer of a
/// probed checkpoint and one for the raw pixels. Plain CSV without quoting, so labels and file names may not hold commas.
/// </summary>
public static class ProbeResultsFile
{
    public const string Header = "label,checkpoint,step,train_images,val_images,test_images,validation_bits,layer,best_c,validation_accuracy,test_accuracy";
    public const string RawPixels = "raw pixels";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Refuses, before any work, a file that is not a results file and names a row cannot hold.</summary>
    public static void CheckWritable(string path, params string[] texts)
    {
        if (Directory.Exists(path)) throw new UserError($"--results {path} is a folder. HINT: give a file name, e.g. {Path.Combine(path, "probe.csv")}");
        foreach (string text in texts)
            if (text.Contains(',') || text.Contains('\n'))
                throw new UserError($"'{text}' holds a comma or a line break, which {path} cannot store. HINT: pick a --label without commas");
        if (File.Exists(path) && new FileInfo(path).Length > 0 && File.ReadLines(path).FirstOrDefault() != Header)
            throw new UserError($"{path} is not a probe results file (its first line is not '{Header}'). HINT: give --results a new file name");
    }

    public static void Append(string path, IReadOnlyList<ProbeResultRow> rows)
    {
        foreach (var r in rows) CheckWritable(path, r.Label, r.Checkpoint, r.Layer);
        bool fresh = !File.Exists(path) || new FileInfo(path).Length == 0;
        using var w = new StreamWriter(path, append: true);
        if (fresh) w.WriteLine(Header);
        foreach (var r in rows)
            w.WriteLine(string.Create(Inv,
                $"{r.Label},{r.Checkpoint},{r.Step},{r.TrainImages},{r.ValImages},{r.TestImages},{r.ValidationBits:R},{r.Layer},{r.BestC:R},{r.ValidationAccuracy:R},{r.TestAccuracy:R}"));
    }

    public static IReadOnlyList<ProbeResultRow> Read(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path} does not exist. HINT: write it with imagegpt probe --results {path}");
        var rows = new List<ProbeResultRow>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (number == 1)
            {
                if (line != Header) throw new UserError($"{path}:1: not a probe results file (expected the header '{Header}')");
                continue;
            }
            if (line.Length == 0) continue;
            string[] f = line.Split(',');
            if (f.Length != 11) throw new UserError($"{path}:{number}: {f.Length} fields, expected 11 ({Header})");
            try
            {
                rows.Add(new ProbeResultRow(f[0], f[1], f[2].Length == 0 ? null : long.Parse(f[2], Inv),
                    int.Parse(f[3], Inv), int.Parse(f[4], Inv), int.Parse(f[5], Inv), double.Parse(f[6], Inv), f[7],
                    double.Parse(f[8], Inv), double.Parse(f[9], Inv), double.Parse(f[10], Inv)));
            }
            catch (FormatException)
            {
                throw new UserError($"{path}:{number}: a number field does not parse: {line}");
            }
        }
        return rows;
    }

    /// <summary>The step of a `step-N.safetensors` checkpoint, else null.</summary>
    public static long? StepOf(string weightsPath)
    {
        string name = Path.GetFileNameWithoutExtension(weightsPath);
        return name.StartsWith("step-", StringComparison.Ordinal) && long.TryParse(name.AsSpan(5), NumberStyles.None, Inv, out long step) ? step : null;
    }
}
