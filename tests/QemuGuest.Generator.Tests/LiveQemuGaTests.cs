using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// Re-checks the recorded texts against a running stock qemu-ga, when one is given:
/// <c>QEMUGUEST_LIVE_QGA_SOCKET=/tmp/sock</c> (start it with <c>qemu-ga -m unix-listen -p /tmp/sock -t DIR</c>).
/// Sends only <see cref="QemuErrorTextTests.Recorded"/> (argument errors of harmless commands) and the
/// envelope cases; never the source-derived ones (they would name guest-set-vcpus / memory blocks).
/// Without the variable the test is reported as skipped.
/// </summary>
public sealed class LiveQemuGaTests
{
    [FactWhenEnvironment("QEMUGUEST_LIVE_QGA_SOCKET", "the socket of a running qemu-ga")]
    public void RecordedTextsMatchTheRunningAgent()
    {
        string socket = Environment.GetEnvironmentVariable("QEMUGUEST_LIVE_QGA_SOCKET")!;
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
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
