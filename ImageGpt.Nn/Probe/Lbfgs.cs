namespace ImageGpt.Nn.Probe;

/// <summary>Stopping rules and memory, with scipy's L-BFGS-B defaults where it has them.</summary>
public sealed record LbfgsOptions(
    // m = 10, scipy's maxcor default.
    int History = 10,
    int MaxIterations = 1000,
    // Stop when max |g_i| <= Pgtol (the projected gradient of an unbounded problem is the gradient).
    double Pgtol = 1e-4,
    // scipy's ftol = factr * eps with factr = 1e7: stop when the relative reduction of f is this small.
    double Ftol = 2.220446049250313e-9,
    int MaxLineSearchEvaluations = 40,
    double C1 = 1e-4,
    double C2 = 0.9);

public sealed record LbfgsResult(double F, int Iterations, int Evaluations, bool Converged, string Reason);

/// <summary>
/// Limited-memory BFGS (Nocedal and Wright, Alg. 7.4 two-loop recursion and 7.5) with a line search
/// satisfying the strong Wolfe conditions (Alg. 3.5 bracketing, Alg. 3.6 zoom with safeguarded cubic
/// interpolation).
/// </summary>
public static class Lbfgs
{
    /// <summary>Computes f(x) and writes the gradient into g.</summary>
    public delegate double Objective(ReadOnlySpan<double> x, Span<double> g);

    public static LbfgsResult Minimize(Objective fg, double[] x, LbfgsOptions options)
    {
        var n = x.Length;
        var m = options.History;
        var S = new double[m][];
        var Y = new double[m][];
        var rho = new double[m];
        for (var i = 0; i < m; i++) { S[i] = new double[n]; Y[i] = new double[n]; }
        var stored = 0;
        var head = 0; // next slot to write
        var g = new double[n];
        var d = new double[n];
        var xNew = new double[n];
        var gNew = new double[n];
        var alphaBuf = new double[m];
        var evaluations = 1;
        var f = fg(x, g);
        var iter = 0;
        while (true)
        {
            if (MaxAbs(g) <= options.Pgtol) return new LbfgsResult(f, iter, evaluations, true, "projected gradient below pgtol");
            if (iter >= options.MaxIterations) return new LbfgsResult(f, iter, evaluations, false, "iteration limit");

            // Two-loop recursion: d = -H g.
            for (var i = 0; i < n; i++) d[i] = -g[i];
            for (var j = 0; j < stored; j++)
            {
                var k = (head - 1 - j + m) % m;
                alphaBuf[k] = rho[k] * Dot(S[k], d);
                Axpy(-alphaBuf[k], Y[k], d);
            }
            double initialStep = 1.0;
            if (stored > 0)
            {
                var last = (head - 1 + m) % m;
                var gamma = Dot(S[last], Y[last]) / Dot(Y[last], Y[last]);
                for (var i = 0; i < n; i++) d[i] *= gamma;
                for (var j = stored - 1; j >= 0; j--)
                {
                    var k = (head - 1 - j + m) % m;
                    var beta = rho[k] * Dot(Y[k], d);
                    Axpy(alphaBuf[k] - beta, S[k], d);
                }
            }
            else
            {
                // No curvature yet: a unit step along -g may be wildly off scale.
                initialStep = Math.Min(1.0, 1.0 / Math.Sqrt(Dot(g, g)));
            }
            var dphi0 = Dot(g, d);
            if (!(dphi0 < 0))
            {
                // Not a descent direction (lost positive definiteness numerically): restart from -g.
                stored = 0;
                for (var i = 0; i < n; i++) d[i] = -g[i];
                dphi0 = -Dot(g, g);
                initialStep = Math.Min(1.0, 1.0 / Math.Sqrt(-dphi0));
            }

            var ls = LineSearch(fg, x, f, d, dphi0, initialStep, xNew, gNew, options);
            evaluations += ls.Evaluations;
            if (!ls.Ok)
            {
                if (stored > 0) { stored = 0; continue; }
                return new LbfgsResult(f, iter, evaluations, false, "line search found no decrease");
            }
            iter++;
            var slot = head;
            for (var i = 0; i < n; i++)
            {
                S[slot][i] = xNew[i] - x[i];
                Y[slot][i] = gNew[i] - g[i];
            }
            var sy = Dot(S[slot], Y[slot]);
            // Keep the pair only with positive curvature; otherwise H would lose definiteness.
            if (sy > 1e-10 * Dot(Y[slot], Y[slot]))
            {
                rho[slot] = 1.0 / sy;
                head = (head + 1) % m;
                stored = Math.Min(stored + 1, m);
            }
            var fOld = f;
            f = ls.F;
            xNew.CopyTo(x, 0);
            gNew.CopyTo(g.AsSpan());
            if ((fOld - f) / Math.Max(Math.Max(Math.Abs(fOld), Math.Abs(f)), 1.0) <= options.Ftol)
                return new LbfgsResult(f, iter, evaluations, true, "relative reduction of f below ftol");
        }
    }

    private readonly record struct Step(bool Ok, double F, int Evaluations);

    // Finds alpha with f(x + alpha d) <= f + c1 alpha dphi0 and |phi'(alpha)| <= c2 |dphi0|.
    // On success xNew/gNew hold the accepted point and its gradient.
    private static Step LineSearch(Objective fg, double[] x, double f0, double[] d, double dphi0,
        double alpha1, double[] xNew, double[] gNew, LbfgsOptions o)
    {
        var evaluations = 0;
        var n = x.Length;
        var bestX = new double[n];
        var bestG = new double[n];
        double bestF = f0, bestA = 0;

        double Eval(double a, out double dphi)
        {
            for (var i = 0; i < n; i++) xNew[i] = x[i] + a * d[i];
            var fa = fg(xNew, gNew);
            dphi = Dot(gNew, d);
            return fa;
        }

        void Remember(double a, double fa)
        {
            if (fa < bestF && double.IsFinite(fa))
            {
                bestF = fa; bestA = a;
                xNew.CopyTo(bestX, 0);
                gNew.CopyTo(bestG, 0);
            }
        }

        double aPrev = 0, fPrev = f0, dPrev = dphi0;
        var a = alpha1;
        var budget = o.MaxLineSearchEvaluations;
        for (var i = 0; budget > 0; i++)
        {
            var fa = Eval(a, out var da);
            evaluations++; budget--;
            if (!double.IsFinite(fa))
            {
                // Overflow far along d: back off towards the last good point.
                a = aPrev + 0.5 * (a - aPrev);
                continue;
            }
            Remember(a, fa);
            if (fa > f0 + o.C1 * a * dphi0 || (i > 0 && fa >= fPrev))
                return Zoom(aPrev, fPrev, dPrev, a, fa, da);
            if (Math.Abs(da) <= -o.C2 * dphi0) return new Step(true, fa, evaluations);
            if (da >= 0) return Zoom(a, fa, da, aPrev, fPrev, dPrev);
            aPrev = a; fPrev = fa; dPrev = da;
            a *= 4;
        }
        return Fallback();

        Step Zoom(double lo, double fLo, double dLo, double hi, double fHi, double dHi)
        {
            while (budget > 0)
            {
                var aj = Cubic(lo, fLo, dLo, hi, fHi, dHi);
                var lower = Math.Min(lo, hi);
                var width = Math.Abs(hi - lo);
                if (!(aj > lower + 0.1 * width && aj < lower + 0.9 * width)) aj = 0.5 * (lo + hi);
                var fj = Eval(aj, out var dj);
                evaluations++; budget--;
                if (!double.IsFinite(fj)) { hi = aj; fHi = double.MaxValue; dHi = 0; continue; }
                Remember(aj, fj);
                if (fj > f0 + o.C1 * aj * dphi0 || fj >= fLo)
                {
                    hi = aj; fHi = fj; dHi = dj;
                }
                else
                {
                    if (Math.Abs(dj) <= -o.C2 * dphi0) return new Step(true, fj, evaluations);
                    if (dj * (hi - lo) >= 0) { hi = lo; fHi = fLo; dHi = dLo; }
                    lo = aj; fLo = fj; dLo = dj;
                }
                if (width < 1e-16 * Math.Max(1.0, Math.Abs(lo))) break;
            }
            return Fallback();
        }

        // Budget spent without the curvature condition: accept the best point if it decreased f
        // enough (sufficient decrease keeps the iteration convergent).
        Step Fallback()
        {
            if (bestA > 0 && bestF <= f0 + o.C1 * bestA * dphi0)
            {
                bestX.CopyTo(xNew, 0);
                bestG.CopyTo(gNew, 0);
                return new Step(true, bestF, evaluations);
            }
            return new Step(false, f0, evaluations);
        }
    }

    // Minimizer of the cubic through (a, fa, da) and (b, fb, db) (Nocedal and Wright eq. 3.59); NaN if none.
    private static double Cubic(double a, double fa, double da, double b, double fb, double db)
    {
        if (!double.IsFinite(fb) || !double.IsFinite(db)) return double.NaN;
        var d1 = da + db - 3 * (fa - fb) / (a - b);
        var disc = d1 * d1 - da * db;
        if (disc < 0) return double.NaN;
        var d2 = Math.Sign(b - a) * Math.Sqrt(disc);
        var denom = db - da + 2 * d2;
        if (denom == 0) return double.NaN;
        return b - (b - a) * (db + d2 - d1) / denom;
    }

    internal static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    private static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        for (var i = 0; i < y.Length; i++) y[i] += alpha * x[i];
    }

    private static double MaxAbs(ReadOnlySpan<double> g)
    {
        var m = 0.0;
        foreach (var v in g) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
