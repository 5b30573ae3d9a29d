using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>
/// The hostile agent's list in the other direction: what a hostile client sends to our agent or
/// to the relay. Each input is written on its own connection, which is then closed; the server
/// must stay up and serve the next client.
/// </summary>
public static class HostileClientInputs
{
    public const long HugeBytes = 1L << 30;

    public static IReadOnlyList<HostileInput> All { get; } = new List<HostileInput>
    {
        Bytes("garbage", RandomBytes(1 << 20, 11)),
        Text("truncated", "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/tm"),
        new("huge-1GiB", WriteHugeAsync),
        Text("deep", "{\"execute\":\"guest-ping\",\"arguments\":" + new string('[', 100_000) + new string(']', 100_000) + "}"),
        Bytes("invalid-utf8", Concat("{\"execute\":\"guest-get-host-name\",\"id\":\"", new byte[] { 0x80, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xC0, 0xAF }, "\"}")),
        Text("odd-ids", "{\"execute\":\"guest-ping\",\"id\":{\"a\":[1,2,{\"b\":null}]}}{\"execute\":\"guest-ping\",\"id\":1e308}{\"execute\":\"guest-ping\",\"id\":-99999999999999999999999}{\"execute\":\"guest-ping\",\"id\":\"" + new string('i', 100_000) + "\"}"),
        Text("replies-as-requests", "{\"return\": {}}{\"return\": 1, \"id\": 5}{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}"),
        Text("wrong-types", "{\"execute\":42}{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":\"x\",\"count\":-1}}{\"execute\":\"guest-exec\",\"arguments\":{\"path\":[\"a\"]}}{\"execute\":\"guest-file-seek\",\"arguments\":{\"handle\":1,\"offset\":1.5,\"whence\":\"sideways\"}}[]\"str\"17"),
        Text("bad-base64", "{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":1000,\"buf-b64\":\"@@not base64!!\"}}{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\",\"input-data\":\"%%%\"}}"),
        Text("unknown-members", "{\"execute\":\"guest-ping\",\"arguments\":{\"x\":1},\"extra\":true}{\"execute\":\"guest-ping\",\"execute\":\"guest-get-time\"}"),
        Text("control-bytes", "{\"execute\":\"guest-ping\"\u0001\u0002\u0000}\u0000\u0000"),
        new("stall-mid-request", async (s, ct) =>
        {
            // Half a request, then silence with the connection open: the server must not wait on
            // it forever to serve others, nor let it swallow the next client's request.
            await WriteAsync(s, Encoding.ASCII.GetBytes("{\"execute\":\"guest-get-time\",\"argu"), ct).ConfigureAwait(false);
            await Task.Delay(1500, ct).ConfigureAwait(false);
        }),
    };

    /// <summary>Every input's name and a one-line description, for reports.</summary>
    public static string Describe() => string.Join(", ", All.Select(i => i.Name));

    private static HostileInput Text(string name, string text) => Bytes(name, Encoding.UTF8.GetBytes(text));

    private static HostileInput Bytes(string name, byte[] bytes) => new(name, (s, ct) => WriteAsync(s, bytes, ct));

    private static async Task WriteAsync(Stream s, byte[] bytes, CancellationToken ct)
    {
        await s.WriteAsync(bytes, ct).ConfigureAwait(false);
        await s.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task WriteHugeAsync(Stream s, CancellationToken ct)
    {
        var chunk = new byte[1 << 20];
        chunk.AsSpan().Fill((byte)'A');
        await WriteAsync(s, Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\",\"arguments\":{\"x\":\""), ct).ConfigureAwait(false);
        for (long sent = 0; sent < HugeBytes; sent += chunk.Length)
        {
            await s.WriteAsync(chunk, ct).ConfigureAwait(false);
        }

        await WriteAsync(s, Encoding.ASCII.GetBytes("\"}}"), ct).ConfigureAwait(false);
    }

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] Concat(string a, byte[] b, string c) =>
        Encoding.ASCII.GetBytes(a).Concat(b).Concat(Encoding.ASCII.GetBytes(c)).ToArray();
}
