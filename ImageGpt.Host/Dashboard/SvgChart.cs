using System.Globalization;
using System.Net;
using System.Text;

namespace ImageGpt.Host.Dashboard;

/// <summary>One line (or set of points) of a chart.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<(double X, double Y)> Points, string Color, bool Dashed = false, bool Markers = false);

/// <summary>
/// Line charts as self-contained SVG (no script, no fonts fetched): axes with round ticks, a legend, a message when there is
/// nothing to draw. The server renders them so that the page needs no chart library.
/// </summary>
public static class SvgChart
{
    private const int Width = 640, Height = 320, Left = 56, Right = 150, Top = 28, Bottom = 44;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="xLabels">names for integer x positions (e.g. layers), used instead of numeric ticks</param>
    public static string Render(string title, string xTitle, string yTitle, IReadOnlyList<ChartSeries> series, IReadOnlyList<string>? xLabels = null)
    {
        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {Height}\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">");
        svg.Append(Inv, $"<title>{Escape(title)}</title><rect width=\"{Width}\" height=\"{Height}\" fill=\"#fff\"/>");
        svg.Append(Inv, $"<text x=\"{Left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{Escape(title)}</text>");
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        if (points.Count == 0)
        {
            svg.Append(Inv, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\" fill=\"#888\" class=\"empty\">nothing to draw yet</text></svg>");
            return svg.ToString();
        }
        var (x0, x1) = Range(points.Select(p => p.X), padToZero: false);
        var (y0, y1) = Range(points.Select(p => p.Y), padToZero: false);
        double[] yTicks = Ticks(y0, y1);
        (y0, y1) = (Math.Min(y0, yTicks[0]), Math.Max(y1, yTicks[^1]));
        double[] xTicks = xLabels is not null ? Enumerable.Range(0, xLabels.Count).Select(i => (double)i).ToArray() : Ticks(x0, x1);
        if (xLabels is not null) (x0, x1) = (0, Math.Max(1, xLabels.Count - 1));
        else (x0, x1) = (Math.Min(x0, xTicks[0]), Math.Max(x1, xTicks[^1]));
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Y(double y) => Top + plotH - (y - y0) / (y1 - y0) * plotH;

        svg.Append(Inv, $"<g stroke=\"#ddd\">");
        foreach (double t in yTicks) svg.Append(Inv, $"<line x1=\"{Left}\" x2=\"{Left + plotW}\" y1=\"{Y(t):F1}\" y2=\"{Y(t):F1}\"/>");
        svg.Append("</g>");
        svg.Append(Inv, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888\"/>");
        foreach (double t in yTicks) svg.Append(Inv, $"<text x=\"{Left - 4}\" y=\"{Y(t) + 4:F1}\" text-anchor=\"end\">{Tick(t)}</text>");
        for (int i = 0; i < xTicks.Length; i++)
        {
            string label = xLabels is not null ? xLabels[i] : Tick(xTicks[i]);
            svg.Append(Inv, $"<text x=\"{X(xTicks[i]):F1}\" y=\"{Top + plotH + 14}\" text-anchor=\"middle\">{Escape(label)}</text>");
        }
        svg.Append(Inv, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">{Escape(xTitle)}</text>");
        svg.Append(Inv, $"<text transform=\"translate(14 {Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yTitle)}</text>");

        int legend = 0;
        foreach (ChartSeries s in series)
        {
            var ps = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (ps.Count == 0) continue;
            string dash = s.Dashed ? " stroke-dasharray=\"6 4\"" : "";
            svg.Append(Inv, $"<g class=\"series\" data-name=\"{Escape(s.Name)}\" data-points=\"{ps.Count}\">");
            if (ps.Count > 1)
                svg.Append(Inv, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.6\"{dash} points=\"{string.Join(' ', ps.Select(p => string.Create(Inv, $"{X(p.X):F1},{Y(p.Y):F1}")))}\"/>");
            if (s.Markers || ps.Count == 1)
                foreach (var p in ps) svg.Append(Inv, $"<circle cx=\"{X(p.X):F1}\" cy=\"{Y(p.Y):F1}\" r=\"2.8\" fill=\"{s.Color}\"/>");
            svg.Append("</g>");
            int ly = Top + 6 + 14 * legend++;
            if (ly > Top + plotH) continue;
            svg.Append(Inv, $"<line x1=\"{Left + plotW + 10}\" x2=\"{Left + plotW + 28}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash}/>");
            svg.Append(Inv, $"<text x=\"{Left + plotW + 32}\" y=\"{ly + 4}\">{Escape(s.Name)}</text>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>Light to dark blue for older to newer checkpoints.</summary>
    public static string Shade(int i, int count)
    {
        double t = count <= 1 ? 1 : (double)i / (count - 1);
        int r = (int)(173 - 165 * t), g = (int)(216 - 168 * t), b = (int)(230 - 123 * t);
        return string.Create(Inv, $"#{r:x2}{g:x2}{b:x2}");
    }

    private static (double, double) Range(IEnumerable<double> values, bool padToZero)
    {
        double lo = values.Min(), hi = values.Max();
        if (padToZero) lo = Math.Min(lo, 0);
        if (hi - lo < 1e-9) { double pad = Math.Max(Math.Abs(hi) * 0.05, 0.5); (lo, hi) = (lo - pad, hi + pad); }
        return (lo, hi);
    }

    /// <summary>About five round ticks (1, 2 or 5 times a power of ten) covering [lo, hi].</summary>
    public static double[] Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        double start = Math.Floor(lo / step) * step, end = Math.Ceiling(hi / step) * step;
        int n = (int)Math.Round((end - start) / step);
        return Enumerable.Range(0, n + 1).Select(i => Math.Round(start + i * step, 10)).ToArray();
    }

    private static string Tick(double v) => Math.Abs(v) >= 10000 ? v.ToString("0.#e0", Inv) : v.ToString("0.####", Inv);

    private static string Escape(string s) => WebUtility.HtmlEncode(s);
}
