using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ImageGpt.Actors.DataPlane;
using ImageGpt.Nn;

namespace ImageGpt.Host.Commands;

/// <summary>
/// <c>imagegpt bench-dataplane [--sizes 1.6MB,305MB] [--rounds N] [--chunk BYTES]</c>: tensor fetches on the data plane
/// over loopback (a server and a client in this process, authenticated, every chunk checked), in MB/s per size, beside
/// two baselines measured in the same rounds on the same bytes: a plain socket copy (two threads, blocking send and
/// receive, no framing, no checks) and memcpy. Also the offer's CRC-32C pass and the bytes allocated per fetch.
/// </summary>
public static class BenchDataplaneCommand
{
    private static readonly Option<string> Sizes = Cli.Text("--sizes", "1.6MB,305MB", "tensor sizes, comma-separated (B, kB, MB, GB, KiB, MiB, GiB)", "SIZES");
    private static readonly Option<int> Rounds = Cli.Int("--rounds", 5, "timed rounds per size, after one warm-up");
    private static readonly Option<string> Chunk = Cli.Text("--chunk", "1MiB", "bytes per chunk (each checked with its own CRC-32C)", "BYTES");

    public static Command Definition { get; } = Cli.Command("bench-dataplane",
        "data-plane tensor fetches on loopback: MB/s beside a plain socket copy and memcpy, CRC-32C speed, bytes allocated per fetch", Sizes, Rounds, Chunk);

    static BenchDataplaneCommand() => Definition.SetAction(Run);

    private static int Run(ParseResult a)
    {
        string sizesText = a.GetValue(Sizes)!;
        int rounds = a.GetValue(Rounds);
        long chunk = Bytes(a.GetValue(Chunk)!, "--chunk");
        if (rounds < 1) throw new UserError($"--rounds {rounds} must be at least 1");
        if (chunk is < DataPlaneOptions.MinChunkBytes or > DataPlaneOptions.MaxChunkBytes || chunk % DataPlaneOptions.MinChunkBytes != 0)
            throw new UserError($"--chunk {chunk} must be a multiple of {DataPlaneOptions.MinChunkBytes} bytes from {DataPlaneOptions.MinChunkBytes} to {DataPlaneOptions.MaxChunkBytes}");
        long[] sizes = sizesText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => Bytes(s, "--sizes")).ToArray();
        foreach (long s in sizes)
            if (s < 4 || s / 4 > Array.MaxLength) throw new UserError($"--sizes: {s} bytes is not a tensor of 1..{Array.MaxLength} floats");

        Console.WriteLine($"bench-dataplane: loopback, chunk {chunk:N0} bytes, {rounds} rounds (+1 warm-up), {Environment.ProcessorCount} cores, load average {LoadAverage()} before the run");
        Console.WriteLine($"CRC-32C (one core): {CrcGbPerSecond():F1} GB/s");
        RunAsync(sizes, rounds, (int)chunk).GetAwaiter().GetResult();
        return 0;
    }

    private static async Task RunAsync(long[] sizes, int rounds, int chunk)
    {
        var options = new DataPlaneOptions { Secret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)), ChunkBytes = chunk };
        await using var server = new DataPlaneServer(options);
        await using var client = new DataPlaneClient(options);
        foreach (long size in sizes)
        {
            int floats = (int)(size / 4);
            // Small tensors are moved several times per round, so each timing covers at least 64 MB.
            int reps = (int)Math.Max(1, (64L << 20) / (floats * 4L));
            double mb = floats * 4.0 / 1e6;
            var source = new float[floats];
            var rng = new Random(1);
            for (int i = 0; i < floats; i++) source[i] = rng.NextSingle();
            var destination = new float[floats];

            var sw = Stopwatch.StartNew();
            var ticket = server.Offer($"bench/{size}", source);
            double offerMs = sw.Elapsed.TotalMilliseconds;
            using var plain = PlainSocketPair.Open();
            Console.WriteLine($"{mb:0.###} MB ({floats:N0} floats, {reps} per timing): offer (CRC-32C of the tensor) {offerMs:F1} ms");

            var plane = new List<Timing>();
            var socket = new List<Timing>();
            var memcpy = new List<Timing>();
            long allocated = 0;
            for (int round = 0; round <= rounds; round++)
            {
                Array.Clear(destination);
                long before = GC.GetTotalAllocatedBytes(precise: true);
                var p = await Time(reps, mb, () => client.FetchAsync(ticket, destination));
                long bytes = (GC.GetTotalAllocatedBytes(precise: true) - before) / reps;
                if (!MemoryMarshal.AsBytes(source.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(destination.AsSpan())))
                    throw new InvalidOperationException("the fetched tensor differs from the offered one");
                var s = await Time(reps, mb, () => plain.CopyAsync(source, destination, chunk));
                var m = await Time(reps, mb, () => { source.AsSpan().CopyTo(destination); return Task.CompletedTask; });
                string label = round == 0 ? "warm-up" : $"round {round}";
                Console.WriteLine($"  {label,-8} data plane {p} | plain socket {s} | memcpy {m} | {bytes:N0} bytes allocated per fetch");
                if (round == 0) continue;
                plane.Add(p);
                socket.Add(s);
                memcpy.Add(m);
                allocated += bytes;
            }
            await server.WithdrawAsync(ticket.Id);
            double bestPlane = plane.Max(t => t.MBps), bestSocket = socket.Max(t => t.MBps);
            double cpuPlane = plane.Min(t => t.CpuMsPerGB), cpuSocket = socket.Min(t => t.CpuMsPerGB);
            Console.WriteLine($"  best: data plane {bestPlane:F0} MB/s = {bestPlane / bestSocket:F2}x plain socket ({bestSocket:F0} MB/s), memcpy {memcpy.Max(t => t.MBps):F0} MB/s; "
                + $"median data plane {Median(plane.Select(t => t.MBps)):F0} MB/s; CPU per GB (both ends) data plane {cpuPlane:F0} ms = {cpuPlane / cpuSocket:F2}x plain socket ({cpuSocket:F0} ms); "
                + $"{allocated / rounds:N0} bytes allocated per fetch (both ends)");
        }
    }

    /// <summary>One timing: wall-clock MB/s, and the process's CPU time per GB moved (less disturbed by other processes on a shared machine).</summary>
    private readonly record struct Timing(double MBps, double CpuMsPerGB)
    {
        public override string ToString() => $"{MBps,6:F0} MB/s {CpuMsPerGB,5:F0} CPU-ms/GB";
    }

    /// <summary><paramref name="reps"/> transfers of <paramref name="mb"/> MB in a row.</summary>
    private static async Task<Timing> Time(int reps, double mb, Func<Task> transfer)
    {
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) await transfer();
        double seconds = sw.Elapsed.TotalSeconds;
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        return new Timing(mb * reps / seconds, cpuMs / (mb * reps / 1e3));
    }

    private static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double CrcGbPerSecond()
    {
        byte[] data = new byte[64 << 20];
        new Random(2).NextBytes(data);
        double best = double.MaxValue;
        for (int i = 0; i < 4; i++)
        {
            var sw = Stopwatch.StartNew();
            Crc32C.Append(0, data);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return data.Length / best / 1e9;
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>"305MB", "1.6 MB", "1MiB", "4096": decimal units for KB/MB/GB (305 MB is iGPT-S's 76M floats), binary for KiB/MiB/GiB.</summary>
    private static long Bytes(string text, string option)
    {
        string t = text.Replace(" ", "", StringComparison.Ordinal);
        (string Suffix, double Scale)[] units = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)];
        foreach (var (suffix, scale) in units)
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                return Parse(t[..^suffix.Length], scale);
        return Parse(t, 1);

        long Parse(string number, double scale) =>
            double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0
                ? (long)Math.Round(v * scale / 4) * 4
                : throw new UserError($"{option}: '{text}' is not a size. HINT: write sizes like 1.6MB, 305MB or 1MiB, comma-separated");
    }

    /// <summary>The baseline: one loopback TCP connection, a thread sending the tensor's bytes and one receiving them, nothing else.</summary>
    private sealed class PlainSocketPair : IDisposable
    {
        private readonly Socket _sender;
        private readonly Socket _receiver;

        private PlainSocketPair(Socket sender, Socket receiver) => (_sender, _receiver) = (sender, receiver);

        public static PlainSocketPair Open()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            sender.Connect(listener.LocalEndPoint!);
            return new PlainSocketPair(sender, listener.Accept());
        }

        public Task CopyAsync(float[] source, float[] destination, int chunk)
        {
            var send = new Thread(() =>
            {
                var bytes = MemoryMarshal.AsBytes(source.AsSpan());
                for (int at = 0; at < bytes.Length; at += chunk) _sender.Send(bytes.Slice(at, Math.Min(chunk, bytes.Length - at)));
            });
            send.Start();
            var bytes = MemoryMarshal.AsBytes(destination.AsSpan());
            for (int at = 0; at < bytes.Length;)
            {
                int n = _receiver.Receive(bytes[at..]);
                if (n == 0) throw new IOException("the baseline's loopback connection closed");
                at += n;
            }
            send.Join();
            return Task.CompletedTask;
        }

        public void Dispose()
        {
            _sender.Dispose();
            _receiver.Dispose();
        }
    }
}
