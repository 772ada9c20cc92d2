using System.Numerics.Tensors;

namespace ImageGpt.Nn.Probe;

/// <summary>
/// Multinomial logistic regression with L2 on the weights (not the intercepts), fitted by our L-BFGS.
/// The objective is scikit-learn 1.2's for LogisticRegression(C, solver="lbfgs", multinomial,
/// fit_intercept=True): f(W, b) = sum_i CE_i + ||W||^2 / (2C) (sklearn/linear_model/_logistic.py,
/// l2_reg_strength = 1/C over the summed HalfMultinomialLoss). Multiplied by C this is the documented
/// 0.5 ||W||^2 + C sum_i CE_i; the scale matters only for the gradient tolerance, which we therefore
/// apply to the same f as sklearn does.
/// </summary>
public sealed class LogisticRegression
{
    public int Classes { get; }
    public int Features { get; }
    public double C { get; }
    /// <summary>Weights [K, d].</summary>
    public double[] Coef { get; }
    /// <summary>Intercepts [K].</summary>
    public double[] Intercept { get; }
    public LbfgsResult Fit { get; }

    private LogisticRegression(int classes, int features, double c, double[] coef, double[] intercept, LbfgsResult fit)
    {
        (Classes, Features, C, Coef, Intercept, Fit) = (classes, features, c, coef, intercept, fit);
    }

    /// <summary>Parameters packed as [K, d + 1]: each class's weights then its intercept.</summary>
    public double[] Packed()
    {
        var d = Features;
        var p = new double[Classes * (d + 1)];
        for (var k = 0; k < Classes; k++)
        {
            Coef.AsSpan(k * d, d).CopyTo(p.AsSpan(k * (d + 1), d));
            p[k * (d + 1) + d] = Intercept[k];
        }
        return p;
    }

    /// <summary>Fits on X [n, d] (row-major) and labels in 0..K-1. Starts from zero or from <paramref name="warmStart"/> (packed).</summary>
    public static LogisticRegression Train(ReadOnlySpan<double> X, ReadOnlySpan<int> y, int d, int classes, double c, LbfgsOptions? options = null, double[]? warmStart = null)
        => Train(new ProbeObjective(X, y, d, classes), d, classes, c, options, warmStart);

    /// <summary>Fits on the samples of <paramref name="objective"/> (built once and shared by every C of a grid).</summary>
    internal static LogisticRegression Train(ProbeObjective objective, int d, int classes, double c, LbfgsOptions? options = null, double[]? warmStart = null)
    {
        if (!(c > 0)) throw new UserError($"regularization C={c} must be positive. HINT: use a grid such as 1e-3 ... 1e3.");
        var p = new double[classes * (d + 1)];
        if (warmStart is not null)
        {
            if (warmStart.Length != p.Length) throw new ArgumentException("warm start has the wrong size");
            warmStart.CopyTo(p, 0);
        }
        var fit = Lbfgs.Minimize((w, g) => objective.Evaluate(c, w, g), p, options ?? new LbfgsOptions());
        var coef = new double[classes * d];
        var intercept = new double[classes];
        for (var k = 0; k < classes; k++)
        {
            p.AsSpan(k * (d + 1), d).CopyTo(coef.AsSpan(k * d, d));
            intercept[k] = p[k * (d + 1) + d];
        }
        return new LogisticRegression(classes, d, c, coef, intercept, fit);
    }

    // Samples are processed in fixed chunks whose partial sums are added in chunk order, so the
    // result does not depend on the number of threads or their timing.
    private const int ChunkRows = 2048;

    /// <summary>
    /// sklearn 1.2's f = sum_i CE_i + ||W||^2/(2C) at packed parameters w [K, d+1]; gradient into g. The naive
    /// twin of <see cref="ProbeObjective"/>, which <see cref="Train(ReadOnlySpan{double}, ReadOnlySpan{int}, int, int, double, LbfgsOptions?, double[])"/> uses.
    /// </summary>
    // X (n, d), y (n), w (K, d+1), g (K, d+1)
    public static double ObjectiveAndGradient(double[] X, int[] y, int d, int K, double C, ReadOnlySpan<double> w, Span<double> g)
    {
        var n = y.Length;
        var chunks = (n + ChunkRows - 1) / ChunkRows;
        var losses = new double[chunks];
        var grads = new double[chunks][];
        var wArr = w.ToArray();
        Parallel.For(0, chunks, ch =>
        {
            var gr = new double[K * (d + 1)];
            var z = new double[K];
            double loss = 0;
            var end = Math.Min(n, (ch + 1) * ChunkRows);
            for (var i = ch * ChunkRows; i < end; i++)
            {
                var xi = new ReadOnlySpan<double>(X, i * d, d);
                var max = double.NegativeInfinity;
                for (var k = 0; k < K; k++)
                {
                    z[k] = TensorPrimitives.Dot(xi, new ReadOnlySpan<double>(wArr, k * (d + 1), d)) + wArr[k * (d + 1) + d];
                    if (z[k] > max) max = z[k];
                }
                double sum = 0;
                for (var k = 0; k < K; k++) { z[k] = Math.Exp(z[k] - max); sum += z[k]; }
                // CE = logsumexp(z) - z_y, computed stably from the shifted exponentials.
                loss += Math.Log(sum) - Math.Log(z[y[i]]);
                for (var k = 0; k < K; k++)
                {
                    var r = z[k] / sum - (k == y[i] ? 1.0 : 0.0);
                    var row = new Span<double>(gr, k * (d + 1), d);
                    TensorPrimitives.MultiplyAdd(xi, r, row, row);
                    gr[k * (d + 1) + d] += r;
                }
            }
            losses[ch] = loss;
            grads[ch] = gr;
        });
        g.Clear();
        double f = 0;
        for (var ch = 0; ch < chunks; ch++)
        {
            f += losses[ch];
            TensorPrimitives.Add(g, grads[ch], g);
        }
        return AddL2(f, w, g, d, K, C);
    }

    /// <summary>f + ||W||^2/(2C), the intercepts unpenalized, with its gradient added into g; shared by both forms of the objective.</summary>
    internal static double AddL2(double f, ReadOnlySpan<double> w, Span<double> g, int d, int K, double C)
    {
        var inv = 1.0 / C;
        for (var k = 0; k < K; k++)
            for (var j = 0; j < d; j++)
            {
                var wk = w[k * (d + 1) + j];
                f += 0.5 * inv * wk * wk;
                g[k * (d + 1) + j] += inv * wk;
            }
        return f;
    }

    /// <summary>The documented form 0.5 ||W||^2 + C sum_i CE_i (= C times the minimized f).</summary>
    public double PrimalObjective(ReadOnlySpan<double> X, ReadOnlySpan<int> y) =>
        C * ObjectiveAndGradient(X.ToArray(), y.ToArray(), Features, Classes, C, Packed(), new double[Classes * (Features + 1)]);

    /// <summary>Argmax of the logits per row (first class on ties).</summary>
    public int[] Predict(ReadOnlySpan<double> X)
    {
        var d = Features;
        var n = X.Length / d;
        var pred = new int[n];
        for (var i = 0; i < n; i++)
        {
            var xi = X.Slice(i * d, d);
            var best = 0;
            var bestZ = double.NegativeInfinity;
            for (var k = 0; k < Classes; k++)
            {
                var z = TensorPrimitives.Dot(xi, Coef.AsSpan(k * d, d)) + Intercept[k];
                if (z > bestZ) { bestZ = z; best = k; }
            }
            pred[i] = best;
        }
        return pred;
    }

    public double Accuracy(ReadOnlySpan<double> X, ReadOnlySpan<int> y)
    {
        var pred = Predict(X);
        var correct = 0;
        for (var i = 0; i < pred.Length; i++) if (pred[i] == y[i]) correct++;
        return pred.Length == 0 ? 0 : (double)correct / pred.Length;
    }
}
