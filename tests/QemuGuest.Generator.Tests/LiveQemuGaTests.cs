using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// Re-checks the recorded texts against Debian's real qemu-ga: one this test starts in
/// unix-listen mode (build.ps1 installs the package), or the one at
/// <c>QEMUGUEST_LIVE_QGA_SOCKET=/tmp/sock</c> when given (e.g. another qemu-ga version).
/// Sends only <see cref="QemuErrorTextTests.Recorded"/> (argument errors of harmless commands) and the
/// envelope cases; never the source-derived ones (they would name guest-set-vcpus / memory blocks).
/// </summary>
public sealed class LiveQemuGaTests
{
    private const string QemuGa = "/usr/sbin/qemu-ga";

    [Fact]
    public void RecordedTextsMatchTheRunningAgent()
    {
        string? given = Environment.GetEnvironmentVariable("QEMUGUEST_LIVE_QGA_SOCKET");
        if (!string.IsNullOrEmpty(given))
        {
            Check(given);
            return;
        }

        Assert.True(File.Exists(QemuGa), $"{QemuGa} is missing: install Debian's qemu-guest-agent (build.ps1 does)");
        string dir = Path.Combine(Path.GetTempPath(), "qg-live-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(Path.Combine(dir, "state"));
        string socket = Path.Combine(dir, "qga.sock");
        using var agent = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(QemuGa)
        {
            ArgumentList = { "-m", "unix-listen", "-p", socket, "-t", Path.Combine(dir, "state"), "-l", Path.Combine(dir, "qga.log") },
            UseShellExecute = false,
        })!;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!File.Exists(socket))
            {
                Assert.False(agent.HasExited, $"qemu-ga exited with {(agent.HasExited ? agent.ExitCode : 0)}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "qemu-ga did not create its socket in 15 s");
                System.Threading.Thread.Sleep(20);
            }
            Check(socket);
        }
        finally
        {
            if (!agent.HasExited)
            {
                agent.Kill();
                agent.WaitForExit(10_000);
            }
            Directory.Delete(dir, true);
        }
    }

    private static void Check(string socket)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Every read is bounded: a silent agent fails the test instead of hanging it.
        s.ReceiveTimeout = 15_000;
        s.SendTimeout = 15_000;
        s.Connect(new UnixDomainSocketEndPoint(socket));
        using var stream = new NetworkStream(s);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        // Resynchronise: 0xFF, then guest-sync-delimited until our id comes back.
        stream.WriteByte(0xFF);
        Send(stream, """{"execute":"guest-sync-delimited","arguments":{"id":4242}}""");
        string? line;
        while ((line = reader.ReadLine()) is not null && !line.Contains("4242", StringComparison.Ordinal))
        {
        }
        var failures = new List<string>();
        foreach (var row in QemuErrorTextTests.Recorded())
        {
            string request = (string)row[0];
            string? expected = (string?)row[1];
            if (expected is null)
            {
                continue; // accepted by the unmarshaller; the command itself would then run
            }
            Send(stream, request);
            string reply = reader.ReadLine()!;
            string? desc = Desc(reply);
            if (desc != expected)
            {
                failures.Add(request + " → " + reply);
            }
        }
        foreach (var row in QemuErrorTextTests.RecordedEnvelope())
        {
            string request = (string)row[0];
            Send(stream, request + "\n");
            string reply = reader.ReadLine()!;
            if (Desc(reply) != (string)row[2])
            {
                failures.Add(request + " → " + reply);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static void Send(Stream stream, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        stream.Write(bytes, 0, bytes.Length);
        stream.Flush();
    }

    private static string? Desc(string reply)
    {
        using var doc = JsonDocument.Parse(reply);
        return doc.RootElement.TryGetProperty("error", out var e) ? e.GetProperty("desc").GetString() : null;
    }
}
