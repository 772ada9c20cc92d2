namespace ImageGpt.Nn.Data;

/// <summary>
/// Resize by area averaging with exact weights: output pixel (oy, ox) is the mean of the input
/// area it covers, each input pixel weighted by its overlap. Measured in units of 1/outH of an
/// input row, output row oy spans [oy*inH, (oy+1)*inH) and input row iy spans [iy*outH, (iy+1)*outH),
/// so every overlap is an integer and the whole computation is exact integer arithmetic; the
/// result is rounded half to even (rint), the same rounding the palette decode uses.
/// Integer factors reduce to block means (28 to 14 averages 2x2 blocks).
/// </summary>
public sealed class AreaResize
{
    private readonly int _inH, _inW, _outH, _outW;
    private readonly (int Start, int[] Weights)[] _rows, _cols;
    private readonly long _denominator;

    public AreaResize(int inH, int inW, int outH, int outW)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inH, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inW, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outH, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outW, 1);
        (_inH, _inW, _outH, _outW) = (inH, inW, outH, outW);
        _rows = Weights(inH, outH);
        _cols = Weights(inW, outW);
        _denominator = (long)inH * inW;
    }

    // For each output index: the first input index it touches and the integer overlap with each
    // input index from there on. The overlaps of one output index sum to inN.
    private static (int, int[])[] Weights(int inN, int outN)
    {
        var result = new (int, int[])[outN];
        for (var o = 0; o < outN; o++)
        {
            long lo = (long)o * inN, hi = (long)(o + 1) * inN;
            var first = (int)(lo / outN);
            var last = (int)((hi - 1) / outN);
            var w = new int[last - first + 1];
            for (var i = first; i <= last; i++)
            {
                long a = Math.Max(lo, (long)i * outN), b = Math.Min(hi, (long)(i + 1) * outN);
                w[i - first] = (int)(b - a);
            }
            result[o] = (first, w);
        }
        return result;
    }

    // inp (inH, inW, Ch) bytes, out (outH, outW, Ch) bytes
    public void Apply(ReadOnlySpan<byte> inp, Span<byte> output, int channels)
    {
        if (inp.Length != _inH * _inW * channels || output.Length != _outH * _outW * channels)
            throw new ArgumentException("buffer sizes do not match the resize shape");
        Span<long> acc = stackalloc long[channels];
        for (var oy = 0; oy < _outH; oy++)
        {
            var (y0, wy) = _rows[oy];
            for (var ox = 0; ox < _outW; ox++)
            {
                var (x0, wx) = _cols[ox];
                acc.Clear();
                for (var dy = 0; dy < wy.Length; dy++)
                {
                    var rowBase = (y0 + dy) * _inW;
                    for (var dx = 0; dx < wx.Length; dx++)
                    {
                        long w = (long)wy[dy] * wx[dx];
                        var p = (rowBase + x0 + dx) * channels;
                        for (var c = 0; c < channels; c++) acc[c] += w * inp[p + c];
                    }
                }
                var q = (oy * _outW + ox) * channels;
                for (var c = 0; c < channels; c++) output[q + c] = RoundHalfEven(acc[c], _denominator);
            }
        }
    }

    private static byte RoundHalfEven(long num, long den)
    {
        var quotient = num / den;
        var twiceRemainder = 2 * (num - quotient * den);
        if (twiceRemainder > den || (twiceRemainder == den && (quotient & 1) == 1)) quotient++;
        return (byte)quotient;
    }
}
