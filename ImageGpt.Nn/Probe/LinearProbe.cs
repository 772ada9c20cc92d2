using ImageGpt.Nn.Model;
using System.Globalization;
using System.Text;
using ImageGpt.Nn.Data;

namespace ImageGpt.Nn.Probe;

/// <summary>Feature rows [N, Dim] with a label each.</summary>
public sealed record Features(float[] X, int[] Y, int Dim)
{
    public int Count => Y.Length;

    public Features Subset(ReadOnlySpan<int> rows)
    {
        var x = new float[rows.Length * Dim];
        var y = new int[rows.Length];
        for (var j = 0; j < rows.Length; j++)
        {
            X.AsSpan(rows[j] * Dim, Dim).CopyTo(x.AsSpan(j * Dim, Dim));
            y[j] = Y[rows[j]];
        }
        return new Features(x, y, Dim);
    }

    /// <summary>Raw pixels scaled to [0, 1] (the baseline the paper's features must beat).</summary>
    public static Features RawPixels(DataSet set)
    {
        var x = new float[set.Images.Length];
        for (var i = 0; i < x.Length; i++) x[i] = set.Images[i] / 255f;
        return new Features(x, set.Labels, set.BytesPerImage);
    }
}

/// <summary>Standardization with the training set's mean and population std (as sklearn's StandardScaler); constant features get std 1.</summary>
public sealed class Standardizer
{
    public double[] Mean { get; }
    public double[] Std { get; }

    public Standardizer(Features train)
    {
        var d = train.Dim;
        Mean = new double[d];
        Std = new double[d];
        var n = train.Count;
        for (var i = 0; i < n; i++)
            for (var j = 0; j < d; j++) Mean[j] += train.X[i * d + j];
        for (var j = 0; j < d; j++) Mean[j] /= Math.Max(n, 1);
        for (var i = 0; i < n; i++)
            for (var j = 0; j < d; j++) { var t = train.X[i * d + j] - Mean[j]; Std[j] += t * t; }
        for (var j = 0; j < d; j++)
        {
            var s = Math.Sqrt(Std[j] / Math.Max(n, 1));
            Std[j] = s > 1e-12 ? s : 1.0;
        }
    }

    public double[] Apply(Features f)
    {
        var d = f.Dim;
        if (d != Mean.Length) throw new ArgumentException($"features have {d} dims, the standardizer {Mean.Length}");
        var x = new double[f.X.Length];
        for (var i = 0; i < f.Count; i++)
            for (var j = 0; j < d; j++) x[i * d + j] = (f.X[i * d + j] - Mean[j]) / Std[j];
        return x;
    }
}

public sealed record GridPoint(double C, double ValidationAccuracy, int Iterations, bool Converged);

/// <summary>One probe: the C chosen on validation and the accuracies it gives.</summary>
public sealed record ProbeResult(string Layer, double BestC, double ValidationAccuracy, double TestAccuracy, IReadOnlyList<GridPoint> Grid)
{
    /// <summary>True when the best C sits at an end of the grid, so a wider grid might do better.</summary>
    public bool AtGridEdge => Grid.Count > 1 && (BestC == Grid[0].C || BestC == Grid[^1].C);
}

public sealed record LowDataResult(int PerClass, int Subsets, double MeanTestAccuracy, double StdTestAccuracy, IReadOnlyList<double> TestAccuracies);

public static class LinearProbe
{
    /// <summary>10^-3 ... 10^3 in half decades: IGPT.md found the best C at the top of {0.01 ... 10}.</summary>
    public static IReadOnlyList<double> DefaultGrid { get; } =
        Enumerable.Range(0, 13).Select(i => Math.Pow(10, -3 + 0.5 * i)).ToArray();

    /// <summary>
    /// The probe's stopping rule: max |g| of the per-sample mean objective (f / n) at most 1e-4,
    /// i.e. pgtol = 1e-4 n on sklearn 1.2's summed f. sklearn 1.2's absolute 1e-4 on the summed f is
    /// out of reach within 1000 iterations for n = 54000 (measured: raw Fashion-MNIST pixels at C = 1
    /// stopped at the iteration limit, as IGPT.md reports for sklearn), while validation accuracy is
    /// settled long before.
    /// </summary>
    public static LbfgsOptions DefaultOptions(int trainCount) => new(Pgtol: 1e-4 * Math.Max(1, trainCount), MaxIterations: 1000);

    /// <summary>
    /// Standardizes with training statistics, fits one model per C from zero (a warm start from the
    /// previous C already met the tolerance for C >= 1 on raw Fashion-MNIST pixels and stopped after
    /// 0 iterations, so every larger C returned the same model), picks the best validation accuracy
    /// (the smaller C on ties: more regularization), and scores that model on test.
    /// </summary>
    public static ProbeResult Fit(string layer, Features train, Features validation, Features test, IReadOnlyList<double>? grid = null, LbfgsOptions? options = null)
    {
        grid ??= DefaultGrid;
        if (grid.Count == 0) throw new UserError("probe: empty regularization grid. HINT: give at least one C.");
        var classes = Math.Max(train.Y.Max(), Math.Max(validation.Y.DefaultIfEmpty(0).Max(), test.Y.DefaultIfEmpty(0).Max())) + 1;
        var scaler = new Standardizer(train);
        var xTr = scaler.Apply(train);
        var xVa = scaler.Apply(validation);
        var xTe = scaler.Apply(test);
        options ??= DefaultOptions(train.Count);
        var points = new List<GridPoint>();
        LogisticRegression? best = null;
        var bestVal = double.NegativeInfinity;
        var objective = new ProbeObjective(xTr, train.Y, train.Dim, classes);
        foreach (var c in grid.OrderBy(c => c))
        {
            var model = LogisticRegression.Train(objective, train.Dim, classes, c, options);
            var val = model.Accuracy(xVa, validation.Y);
            points.Add(new GridPoint(c, val, model.Fit.Iterations, model.Fit.Converged));
            if (val > bestVal) { bestVal = val; best = model; }
        }
        return new ProbeResult(layer, best!.C, bestVal, best.Accuracy(xTe, test.Y), points);
    }

    /// <summary>Logistic regression on raw pixels (scaled to [0,1], then standardized).</summary>
    public static ProbeResult RawPixelBaseline(DataSplits splits, IReadOnlyList<double>? grid = null, LbfgsOptions? options = null) =>
        Fit("pixels", Features.RawPixels(splits.Train), Features.RawPixels(splits.Validation), Features.RawPixels(splits.Test), grid, options);

    /// <summary>
    /// Low-data probe: <paramref name="subsets"/> seeded random subsets of <paramref name="perClass"/>
    /// training examples per class; each chooses C on the validation split; test accuracy mean and
    /// sample standard deviation over subsets.
    /// </summary>
    public static LowDataResult LowData(Features train, Features validation, Features test, int perClass, int subsets, ulong seed, IReadOnlyList<double>? grid = null, LbfgsOptions? options = null)
    {
        if (perClass < 1 || subsets < 1) throw new UserError($"low-data probe: {perClass} per class x {subsets} subsets. HINT: both must be at least 1.");
        var byClass = train.Y.Select((y, i) => (y, i)).GroupBy(t => t.y).OrderBy(g => g.Key).Select(g => g.Select(t => t.i).ToArray()).ToArray();
        foreach (var members in byClass)
            if (members.Length < perClass)
                throw new UserError($"low-data probe: a class has {members.Length} training examples, fewer than {perClass}. HINT: use at most {byClass.Min(m => m.Length)} per class.");
        var accs = new double[subsets];
        for (var s = 0; s < subsets; s++)
        {
            var rng = SeededRandom.Derive(seed, (ulong)s);
            var rows = new List<int>();
            foreach (var members in byClass)
            {
                var copy = (int[])members.Clone();
                rng.Shuffle(copy.AsSpan());
                rows.AddRange(copy.Take(perClass));
            }
            rows.Sort();
            accs[s] = Fit($"low-data {s}", train.Subset(rows.ToArray()), validation, test, grid, options).TestAccuracy;
        }
        var mean = accs.Average();
        var sd = subsets > 1 ? Math.Sqrt(accs.Sum(a => (a - mean) * (a - mean)) / (subsets - 1)) : 0;
        return new LowDataResult(perClass, subsets, mean, sd, accs);
    }
}

/// <summary>Probe results per layer, printed as a table.</summary>
public sealed class ProbeTable
{
    private readonly List<ProbeResult> _rows = [];
    public IReadOnlyList<ProbeResult> Rows => _rows;

    public void Add(ProbeResult row) => _rows.Add(row);

    public string Format()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var width = Math.Max(5, _rows.Select(r => r.Layer.Length).DefaultIfEmpty(0).Max());
        sb.AppendLine($"{"layer".PadRight(width)}  {"best C",9}  {"val acc",8}  {"test acc",8}");
        foreach (var r in _rows)
        {
            var edge = r.AtGridEdge ? "  (best C at grid edge)" : "";
            sb.AppendLine(string.Create(inv, $"{r.Layer.PadRight(width)}  {r.BestC,9:G3}  {100 * r.ValidationAccuracy,7:F2}%  {100 * r.TestAccuracy,7:F2}%{edge}"));
        }
        if (_rows.Count > 0)
        {
            var best = _rows.MaxBy(r => r.ValidationAccuracy)!;
            sb.AppendLine(string.Create(inv, $"best layer by validation: {best.Layer} (test {100 * best.TestAccuracy:F2}%)"));
        }
        return sb.ToString();
    }
}
