using ImageGpt.Nn.Model;
using System.Text.Json;
using ImageGpt.Nn.Data;
using ImageGpt.Nn.Probe;

namespace ImageGpt.Nn.Tests.Probe;

public class LogisticRegressionTests
{
    private sealed record Fit(double C, double[][] Coef, double[] Intercept, double Objective, double TrainAccuracy, int NIter);

    private sealed record Fixture(string Sklearn, int N, int D, int Classes, double[] X, int[] Y, Fit[] Fits);

    private static Fixture LoadFixture()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "probe", "logreg.json");
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, PropertyNameCaseInsensitive = true };
        return JsonSerializer.Deserialize<Fixture>(File.ReadAllText(path), options)!;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Lbfgs_reaches_sklearns_objective_with_the_same_predictions(int fitIndex)
    {
        var fx = LoadFixture();
        var sk = fx.Fits[fitIndex];
        // Ten times tighter than sklearn's tol = 1e-4 so we land at least as low as it did.
        var model = LogisticRegression.Train(fx.X, fx.Y, fx.D, fx.Classes, sk.C, new LbfgsOptions(Pgtol: 1e-5, Ftol: 0));
        Assert.True(model.Fit.Converged, model.Fit.Reason);
        var ours = model.PrimalObjective(fx.X, fx.Y);
        // Objective: ours <= sklearn's + 1e-7 relative (sklearn stops at max|grad| <= 1e-4 of f = objective / C).
        Assert.True(ours <= sk.Objective * (1 + 1e-7), $"ours {ours} vs sklearn {sk.Objective}");
        Assert.True(ours >= sk.Objective * (1 - 1e-5), $"ours {ours} far below sklearn {sk.Objective}: objectives differ");
        Assert.Equal(sk.TrainAccuracy, model.Accuracy(fx.X, fx.Y), 12);
        // Coefficients: within 1e-3 of the largest |coef| (sklearn's own tolerance leaves that much slack);
        // intercepts compared after removing their mean, which the multinomial softmax cannot see.
        var scale = sk.Coef.SelectMany(r => r).Max(Math.Abs);
        for (var k = 0; k < fx.Classes; k++)
            for (var j = 0; j < fx.D; j++)
                Assert.True(Math.Abs(model.Coef[k * fx.D + j] - sk.Coef[k][j]) <= 1e-3 * scale, $"coef[{k},{j}] {model.Coef[k * fx.D + j]} vs {sk.Coef[k][j]}");
        var ourMean = model.Intercept.Average();
        var skMean = sk.Intercept.Average();
        for (var k = 0; k < fx.Classes; k++)
            Assert.True(Math.Abs(model.Intercept[k] - ourMean - (sk.Intercept[k] - skMean)) <= 1e-3 * Math.Max(1, sk.Intercept.Max(Math.Abs)));
    }

    [Fact]
    public void Gradient_matches_central_finite_differences()
    {
        var rng = new SeededRandom(3);
        int n = 17, d = 4, k = 3;
        var x = Enumerable.Range(0, n * d).Select(_ => rng.NextGaussian()).ToArray();
        var y = Enumerable.Range(0, n).Select(i => i % k).ToArray();
        var w = Enumerable.Range(0, k * (d + 1)).Select(_ => 0.5 * rng.NextGaussian()).ToArray();
        var g = new double[w.Length];
        LogisticRegression.ObjectiveAndGradient(x, y, d, k, 0.7, w, g);
        var scratch = new double[w.Length];
        for (var i = 0; i < w.Length; i++)
        {
            var h = 1e-5;
            var wp = (double[])w.Clone(); wp[i] += h;
            var wm = (double[])w.Clone(); wm[i] -= h;
            var fd = (LogisticRegression.ObjectiveAndGradient(x, y, d, k, 0.7, wp, scratch) - LogisticRegression.ObjectiveAndGradient(x, y, d, k, 0.7, wm, scratch)) / (2 * h);
            Assert.Equal(fd, g[i], 6);
        }
    }

    [Fact]
    public void Objective_at_zero_is_n_log_k()
    {
        var x = new double[10 * 3];
        var y = Enumerable.Range(0, 10).Select(i => i % 4).ToArray();
        var f = LogisticRegression.ObjectiveAndGradient(x, y, 3, 4, 1.0, new double[4 * 4], new double[16]);
        Assert.Equal(10 * Math.Log(4), f, 12);
    }

    [Fact]
    public void Lbfgs_minimizes_the_rosenbrock_function()
    {
        double[] x = [-1.2, 1.0];
        var r = Lbfgs.Minimize((p, g) =>
        {
            var a = 1 - p[0];
            var b = p[1] - p[0] * p[0];
            g[0] = -2 * a - 400 * p[0] * b;
            g[1] = 200 * b;
            return a * a + 100 * b * b;
        }, x, new LbfgsOptions(Pgtol: 1e-9, Ftol: 0));
        Assert.True(r.Converged, r.Reason);
        Assert.Equal(1.0, x[0], 6);
        Assert.Equal(1.0, x[1], 6);
        Assert.InRange(r.Iterations, 1, 100);
    }

    [Fact]
    public void Lbfgs_stops_at_the_iteration_limit_and_says_so()
    {
        double[] x = [-1.2, 1.0];
        var r = Lbfgs.Minimize((p, g) =>
        {
            var a = 1 - p[0];
            var b = p[1] - p[0] * p[0];
            g[0] = -2 * a - 400 * p[0] * b;
            g[1] = 200 * b;
            return a * a + 100 * b * b;
        }, x, new LbfgsOptions(MaxIterations: 3, Pgtol: 1e-12, Ftol: 0));
        Assert.False(r.Converged);
        Assert.Equal(3, r.Iterations);
        Assert.Equal("iteration limit", r.Reason);
    }
}

public class LinearProbeTests
{
    // Gaussian classes in Dim dimensions; Separation scales the distance between class means.
    private static Features Blobs(int n, int dim, int classes, double separation, ulong seed, ulong meansSeed = 99)
    {
        var mr = new SeededRandom(meansSeed);
        var means = Enumerable.Range(0, classes * dim).Select(_ => separation * mr.NextGaussian()).ToArray();
        var r = new SeededRandom(seed);
        var x = new float[n * dim];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            y[i] = i % classes;
            // Feature scales and offsets differ, so standardization matters.
            for (var j = 0; j < dim; j++) x[i * dim + j] = (float)((means[y[i] * dim + j] + r.NextGaussian()) * (1 + j) + 3 * j);
        }
        return new Features(x, y, dim);
    }

    [Fact]
    public void Probe_chooses_the_grid_point_with_the_best_validation_accuracy()
    {
        var train = Blobs(200, 6, 3, 0.6, 1);
        var val = Blobs(150, 6, 3, 0.6, 2);
        var test = Blobs(150, 6, 3, 0.6, 3);
        var r = LinearProbe.Fit("layer 3", train, val, test, [1e-3, 1e-1, 10]);
        Assert.Equal(3, r.Grid.Count);
        var best = r.Grid.First(g => g.ValidationAccuracy == r.Grid.Max(p => p.ValidationAccuracy));
        Assert.Equal(best.C, r.BestC);
        Assert.Equal(best.ValidationAccuracy, r.ValidationAccuracy);
        Assert.All(r.Grid, g => Assert.True(g.Converged));
        // The oracle is the Bayes classifier (nearest true class mean after undoing the feature scaling);
        // a linear probe on 200 samples gets close to it, and far above chance (1/3).
        double bayes = NearestTrueMeanAccuracy(test, 6, 3, 0.6, meansSeed: 99);
        Assert.InRange(r.TestAccuracy, Math.Max(bayes - 0.08, 0.45), 1.0);
    }

    private static double NearestTrueMeanAccuracy(Features f, int dim, int classes, double separation, ulong meansSeed)
    {
        var mr = new SeededRandom(meansSeed);
        var means = Enumerable.Range(0, classes * dim).Select(_ => separation * mr.NextGaussian()).ToArray();
        int correct = 0;
        for (var i = 0; i < f.Count; i++)
        {
            int best = 0;
            double bestD = double.MaxValue;
            for (var c = 0; c < classes; c++)
            {
                double d = 0;
                for (var j = 0; j < dim; j++)
                {
                    double z = (f.X[i * dim + j] - 3 * j) / (1 + j) - means[c * dim + j];
                    d += z * z;
                }
                if (d < bestD) { bestD = d; best = c; }
            }
            if (best == f.Y[i]) correct++;
        }
        return (double)correct / f.Count;
    }

    [Fact]
    public void Probe_on_standardized_features_equals_a_direct_fit_at_the_chosen_c()
    {
        var train = Blobs(120, 5, 4, 0.8, 4);
        var val = Blobs(80, 5, 4, 0.8, 5);
        var test = Blobs(90, 5, 4, 0.8, 6);
        var r = LinearProbe.Fit("x", train, val, test, [0.1]);
        var scaler = new Standardizer(train);
        var model = LogisticRegression.Train(scaler.Apply(train), train.Y, 5, 4, 0.1, LinearProbe.DefaultOptions(train.Count));
        Assert.Equal(model.Accuracy(scaler.Apply(test), test.Y), r.TestAccuracy, 12);
        // Standardized training features have mean 0 and population std 1.
        var z = scaler.Apply(train);
        for (var j = 0; j < 5; j++)
        {
            var col = Enumerable.Range(0, 120).Select(i => z[i * 5 + j]).ToArray();
            Assert.Equal(0, col.Average(), 10);
            Assert.Equal(1, Math.Sqrt(col.Select(v => v * v).Average()), 10);
        }
    }

    [Fact]
    public void Low_data_probe_reports_mean_and_sd_over_seeded_subsets()
    {
        var train = Blobs(300, 4, 3, 1.0, 7);
        var val = Blobs(90, 4, 3, 1.0, 8);
        var test = Blobs(90, 4, 3, 1.0, 9);
        var a = LinearProbe.LowData(train, val, test, perClass: 5, subsets: 4, seed: 1, grid: [0.1, 10]);
        var b = LinearProbe.LowData(train, val, test, perClass: 5, subsets: 4, seed: 1, grid: [0.1, 10]);
        Assert.Equal(a.TestAccuracies, b.TestAccuracies);
        Assert.Equal(4, a.TestAccuracies.Count);
        Assert.Equal(a.TestAccuracies.Average(), a.MeanTestAccuracy, 12);
        var m = a.MeanTestAccuracy;
        Assert.Equal(Math.Sqrt(a.TestAccuracies.Sum(v => (v - m) * (v - m)) / 3), a.StdTestAccuracy, 12);
        Assert.Throws<UserError>(() => LinearProbe.LowData(train, val, test, perClass: 101, subsets: 1, seed: 1));
    }

    [Fact]
    public void Table_prints_one_row_per_layer_and_flags_a_best_c_at_the_grid_edge()
    {
        var table = new ProbeTable();
        table.Add(new ProbeResult("block 0", 0.1, 0.75, 0.74, [new(0.01, 0.7, 5, true), new(0.1, 0.75, 6, true), new(1, 0.72, 9, true)]));
        table.Add(new ProbeResult("block 4", 1000, 0.81, 0.8, [new(1, 0.7, 5, true), new(1000, 0.81, 60, true)]));
        var text = table.Format();
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Contains("block 0", lines[1]);
        Assert.Contains("75.00%", lines[1]);
        Assert.DoesNotContain("grid edge", lines[1]);
        Assert.Contains("1E+03", lines[2]);
        Assert.Contains("grid edge", lines[2]);
        Assert.Contains("best layer by validation: block 4 (test 80.00%)", lines[3]);
    }

    [Fact]
    public void Raw_pixel_features_are_bytes_over_255()
    {
        var set = new ImageGpt.Nn.Data.DataSet("s", [0, 255, 51, 102], [0], 2, 1, ["a"]);
        Assert.Equal([0f, 1f, 0.2f, 0.4f], Features.RawPixels(set).X);
    }
}
