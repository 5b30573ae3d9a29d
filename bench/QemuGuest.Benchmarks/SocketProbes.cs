using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace QemuGuest.Benchmarks;

/// <summary>
/// Socket measurements for bench/RESULTS.md, each printing one JSON line:
/// <list type="bullet">
/// <item><c>ceiling --bytes N [--buffer B] [--runs R]</c>: one-way throughput of a unix stream
/// socket with large buffers on both ends (the physical limit a protocol client could reach);</item>
/// <item><c>ping --socket PATH [--count N] [--warmup W]</c>: guest-ping round trips against an
/// agent or relay endpoint, one at a time, after a 0xFF + guest-sync-delimited handshake
/// (<c>--samples FILE</c>: every round trip as "start µs, latency µs" lines, in order, to see
/// what the slow ones share: a period, a burst, a moment);</item>
/// <item><c>pingceiling [--count N] [--warmup W]</c>: the same request/reply sizes bounced by
/// an echo thread, the round-trip floor of the socket itself.</item>
/// </list>
/// A plain blocking client on purpose: it is what a minimal C client would do, so the numbers
/// measure the agent and the relay rather than an async pipeline.
/// </summary>
public static class SocketProbes
{
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] Ping = "{\"execute\":\"guest-ping\"}"u8.ToArray();

    public static bool IsProbe(string name) => name is "ceiling" or "ping" or "pingceiling";

    public static int Run(string[] args)
    {
        try
        {
            var options = ParseOptions(args);
            string json = args[0] switch
            {
                "ceiling" => Ceiling(GetLong(options, "bytes", 1L << 30), (int)GetLong(options, "buffer", 1 << 20), (int)GetLong(options, "runs", 3)),
                "ping" => PingAgent(Get(options, "socket") ?? throw new ArgumentException("ping needs --socket PATH"), (int)GetLong(options, "count", 2000), (int)GetLong(options, "warmup", 200), Get(options, "samples")),
                _ => PingCeiling((int)GetLong(options, "count", 2000), (int)GetLong(options, "warmup", 200)),
            };
            Console.WriteLine(json);
            return 0;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or SocketException or TimeoutException)
        {
            Console.Error.WriteLine($"{args[0]}: {ex.Message}");
            return 2;
        }
    }

    private static string Ceiling(long bytes, int bufferSize, int runs)
    {
        if (bytes <= 0 || bufferSize < 4096 || bufferSize > (64 << 20) || runs < 1 || runs > 100)
        {
            throw new ArgumentException($"ceiling: --bytes {bytes} must be > 0, --buffer {bufferSize} in 4096..64 MiB, --runs {runs} in 1..100");
        }

        var mibps = new List<double>();
        for (int run = 0; run < runs; run++)
        {
            string dir = Directory.CreateTempSubdirectory("qg-ceiling-").FullName;
            try
            {
                string path = Path.Combine(dir, "s");
                using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                listener.Bind(new UnixDomainSocketEndPoint(path));
                listener.Listen(1);
                long received = 0;
                Exception? readerError = null;
                var reader = new Thread(() =>
                {
                    try
                    {
                        using Socket s = listener.Accept();
                        s.ReceiveTimeout = (int)IoTimeout.TotalMilliseconds;
                        var buf = new byte[bufferSize];
                        int n;
                        while ((n = s.Receive(buf)) > 0)
                        {
                            received += n;
                        }
                    }
                    catch (Exception ex)
                    {
                        readerError = ex;
                    }
                });
                reader.Start();
                using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                client.SendTimeout = (int)IoTimeout.TotalMilliseconds;
                client.Connect(new UnixDomainSocketEndPoint(path));
                var data = new byte[bufferSize];
                Random.Shared.NextBytes(data);
                var clock = Stopwatch.StartNew();
                for (long left = bytes; left > 0;)
                {
                    int n = (int)Math.Min(left, data.Length);
                    client.Send(data, 0, n, SocketFlags.None);
                    left -= n;
                }

                client.Shutdown(SocketShutdown.Send);
                if (!reader.Join(IoTimeout))
                {
                    throw new TimeoutException($"ceiling: the reader did not finish within {IoTimeout.TotalSeconds} s");
                }

                clock.Stop();
                if (readerError is not null || received != bytes)
                {
                    throw new IOException($"ceiling: received {received} of {bytes} bytes ({readerError?.Message})");
                }

                mibps.Add(bytes / 1048576.0 / clock.Elapsed.TotalSeconds);
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        return Json(("probe", "ceiling"), ("bytes", bytes), ("buffer", bufferSize), ("runs", runs),
            ("mibps_median", Median(mibps)), ("mibps_max", mibps.Max()), ("mibps_min", mibps.Min()));
    }

    private static string PingAgent(string socketPath, int count, int warmup, string? samplesPath)
    {
        CheckCounts(count, warmup);
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.ReceiveTimeout = s.SendTimeout = (int)IoTimeout.TotalMilliseconds;
        s.Connect(new UnixDomainSocketEndPoint(socketPath));
        var buffer = new byte[64 * 1024];

        // Reset the agent's parser and skip whatever an earlier client left in the channel.
        s.Send([0xFF]);
        s.Send("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":7340033}}"u8);
        var seen = new StringBuilder();
        var deadline = Stopwatch.StartNew();
        while (!seen.ToString().Contains("7340033", StringComparison.Ordinal))
        {
            if (deadline.Elapsed > IoTimeout || seen.Length > buffer.Length)
            {
                throw new TimeoutException($"ping: no guest-sync-delimited reply from {socketPath} (got {seen.Length} bytes)");
            }

            int n = s.Receive(buffer);
            if (n == 0)
            {
                throw new IOException($"ping: {socketPath} closed during the handshake");
            }

            seen.Append(Encoding.ASCII.GetString(buffer, 0, n).Replace("\xFF", string.Empty));
        }

        // Drain the rest of the sync reply line.
        if (!seen.ToString().EndsWith('\n'))
        {
            ReadLine(s, buffer, socketPath);
        }

        var samples = new double[count];
        var starts = new long[count];
        for (int i = -warmup; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            s.Send(Ping);
            ReadLine(s, buffer, socketPath);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                starts[i] = start;
            }
        }

        if (samplesPath is not null)
        {
            var lines = new StringBuilder();
            for (int i = 0; i < count; i++)
            {
                lines.Append(CultureInfo.InvariantCulture, $"{Stopwatch.GetElapsedTime(starts[0], starts[i]).TotalMicroseconds:F1} {samples[i]:F1}\n");
            }

            File.WriteAllText(samplesPath, lines.ToString());
        }

        return Latency("ping", samples, warmup);
    }

    private static void ReadLine(Socket s, byte[] buffer, string what)
    {
        int total = 0;
        while (true)
        {
            int n = s.Receive(buffer, total, buffer.Length - total, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException($"ping: {what} closed the connection");
            }

            total += n;
            if (buffer[total - 1] == (byte)'\n')
            {
                return;
            }

            if (total == buffer.Length)
            {
                throw new IOException($"ping: a reply from {what} exceeded {buffer.Length} bytes without a newline");
            }
        }
    }

    private static string PingCeiling(int count, int warmup)
    {
        CheckCounts(count, warmup);
        string dir = Directory.CreateTempSubdirectory("qg-pingceiling-").FullName;
        try
        {
            string path = Path.Combine(dir, "s");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            byte[] reply = "{\"return\": {}}\n"u8.ToArray();
            var echo = new Thread(() =>
            {
                using Socket peer = listener.Accept();
                peer.ReceiveTimeout = (int)IoTimeout.TotalMilliseconds;
                var buf = new byte[4096];
                try
                {
                    // One request in, one reply out: the same sizes as a guest-ping.
                    while (peer.Receive(buf) > 0)
                    {
                        peer.Send(reply);
                    }
                }
                catch (SocketException)
                {
                }
            })
            { IsBackground = true };
            echo.Start();
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.ReceiveTimeout = s.SendTimeout = (int)IoTimeout.TotalMilliseconds;
            s.Connect(new UnixDomainSocketEndPoint(path));
            var buffer = new byte[4096];
            var samples = new double[count];
            for (int i = -warmup; i < count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                s.Send(Ping);
                ReadLine(s, buffer, "the echo thread");
                if (i >= 0)
                {
                    samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }

            s.Shutdown(SocketShutdown.Both);
            echo.Join(IoTimeout);
            return Latency("pingceiling", samples, warmup);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Latency(string probe, double[] samples, int warmup)
    {
        Array.Sort(samples);
        return Json(("probe", probe), ("count", samples.Length), ("warmup", warmup),
            ("p50_us", Percentile(samples, 0.50)), ("p99_us", Percentile(samples, 0.99)),
            ("min_us", samples[0]), ("mean_us", samples.Average()));
    }

    private static void CheckCounts(int count, int warmup)
    {
        if (count < 1 || count > 10_000_000 || warmup < 0 || warmup > 1_000_000)
        {
            throw new ArgumentException($"--count {count} must be in 1..10000000 and --warmup {warmup} in 0..1000000");
        }
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static Dictionary<string, string> ParseOptions(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"{args[0]}: expected '--name value', got '{args[i]}'");
            }

            options[args[i][2..]] = args[++i];
        }

        return options;
    }

    private static string? Get(Dictionary<string, string> options, string name) => options.TryGetValue(name, out string? v) ? v : null;

    private static long GetLong(Dictionary<string, string> options, string name, long fallback)
    {
        string? text = Get(options, name);
        if (text is null)
        {
            return fallback;
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new ArgumentException($"--{name} '{text}' is not an integer");
    }

    private static string Json(params (string Name, object Value)[] members) =>
        "{" + string.Join(", ", members.Select(m => $"\"{m.Name}\": " + m.Value switch
        {
            string s => "\"" + s + "\"",
            double d => Math.Round(d, 2).ToString(CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var o => o.ToString(),
        })) + "}";
}
