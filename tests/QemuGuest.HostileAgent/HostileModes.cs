using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>
/// One mode per hostile behaviour of issue 11. Syncs are always answered correctly (the fixture
/// does that), so a peer gets past its handshake and meets the hostility on a real request. The
/// file-read modes answer open/close/seek normally and lie only in guest-file-read.
/// </summary>
public static class HostileModes
{
    /// <summary>Size of the "huge" reply's string member.</summary>
    public const long HugeBytes = 1L << 30;

    /// <summary>Every mode, with what it does (also the program's --help).</summary>
    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>
    {
        ["normal"] = "well-behaved replies (FakeAgent.Normal)",
        ["garbage"] = "64 KiB of random bytes (0xFF included), no reply",
        ["truncated"] = "the first half of a valid reply, then the connection closes",
        ["huge"] = "a syntactically valid reply of 1 GiB (one string member), streamed",
        ["deep"] = "a reply nested 100,000 arrays deep",
        ["invalid-utf8"] = "a reply whose string holds invalid UTF-8 (lone continuation, surrogate, overlong)",
        ["other-id"] = "a valid reply carrying another request's id, never the asked one",
        ["unsolicited"] = "correct replies, plus a stream of replies nobody asked for (with and without ids)",
        ["wrong-type"] = "replies of the wrong shape for the asked command (array/string where the schema says otherwise)",
        ["bad-base64"] = "guest-file-read returns buf-b64 that is not base64",
        ["endless-read"] = "guest-file-read never reports eof: every read returns count bytes, eof false",
        ["stall"] = "the first half of a valid reply, then silence with the connection open",
        ["escapes"] = "host name, OS, users, exec output and error texts full of terminal escapes (OSC 0 title, OSC 52 clipboard, CSI, bidi)",
        ["forged-errors"] = "GenericError descriptions that try to choose the error's kind: 'Permission denied' wrapped in terminal escapes, a fake \"class\" member, a forged second line",
        ["bulk-bad-crc"] = "offers the bulk mode; a bulk read's second frame has a wrong CRC32C",
        ["bulk-overlong"] = "offers the bulk mode; a bulk read's frame carries more bytes than its header announces",
        ["bulk-over-bound"] = "offers the bulk mode; a bulk read's frame announces more than the negotiated maximum",
        ["bulk-endless"] = "offers the bulk mode; a bulk read sends frames forever, far beyond the count asked for",
        ["bulk-silent"] = "offers the bulk mode; a bulk read sends one frame, then nothing (no end frame, no reply)",
        ["exec-flood"] = "guest-exec-status reports an exited process with " + (ExecFloodBytes >> 20) + " MiB of stdout (over the stock agent's 16 MiB cap)",
    }.Concat(HostileListings.Modes).ToDictionary(p => p.Key, p => p.Value);

    /// <summary>Configures <paramref name="agent"/> for <paramref name="mode"/>.</summary>
    public static void Apply(FakeAgent agent, string mode)
    {
        agent.OnConnect = null;
        switch (mode)
        {
            case "normal":
                agent.Handler = FakeAgent.Normal;
                break;
            case "garbage":
                agent.Handler = r =>
                {
                    var junk = new byte[64 * 1024];
                    Random.Shared.NextBytes(junk);
                    return r.SendAsync(junk);
                };
                break;
            case "truncated":
                agent.Handler = async r =>
                {
                    string reply = ValidReply(r);
                    await r.SendAsync(reply.Substring(0, reply.Length / 2));
                    r.Connection.Close();
                };
                break;
            case "huge":
                agent.Handler = r => SendHugeAsync(r, HugeBytes);
                break;
            case "deep":
                agent.Handler = r => r.SendAsync("{\"return\": " + new string('[', 100_000) + new string(']', 100_000) + r.IdMember + "}\n");
                break;
            case "invalid-utf8":
                agent.Handler = r =>
                {
                    var bytes = new List<byte>(Encoding.ASCII.GetBytes("{\"return\": {\"host-name\": \"a"));
                    bytes.AddRange(new byte[] { 0x80, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xC0, 0xAF, 0xFE });
                    bytes.AddRange(Encoding.ASCII.GetBytes("\"}" + r.IdMember + "}\n"));
                    return r.SendAsync(bytes.ToArray());
                };
                break;
            case "other-id":
                agent.Handler = r => r.ReplyAsync(ValidBody(r), id: r.Id is { ValueKind: System.Text.Json.JsonValueKind.Number } id && id.TryGetInt64(out long n) ? (n + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : "\"someone-else\"");
                break;
            case "unsolicited":
                agent.Handler = FakeAgent.Normal;
                agent.OnConnect = SpamAsync;
                break;
            case "wrong-type":
                agent.Handler = r => r.ReplyAsync(r.Command switch
                {
                    "guest-get-time" => "{\"return\": \"noon\"}",
                    "guest-file-open" => "{\"return\": {\"handle\": 1000}}",
                    "guest-file-read" => "{\"return\": {\"count\": \"many\", \"buf-b64\": 7, \"eof\": \"no\"}}",
                    _ => "{\"return\": [\"wrong\"]}",
                });
                break;
            case "bad-base64":
                agent.Handler = r => r.Command == "guest-file-read"
                    ? r.ReplyAsync("{\"return\": {\"count\": 12, \"buf-b64\": \"@@not*base64!!\", \"eof\": false}}")
                    : FakeAgent.Normal(r);
                break;
            case "endless-read":
                agent.Handler = r =>
                {
                    if (r.Command != "guest-file-read")
                    {
                        return FakeAgent.Normal(r);
                    }

                    int count = r.Arguments.TryGetProperty("count", out var c) && c.TryGetInt32(out int n) ? Math.Clamp(n, 1, 1 << 20) : 4096;
                    return r.ReplyAsync("{\"return\": {\"count\": " + count + ", \"buf-b64\": \"" + Convert.ToBase64String(new byte[count]) + "\", \"eof\": false}}");
                };
                break;
            case "stall":
                agent.Handler = async r =>
                {
                    string reply = ValidReply(r);
                    await r.SendAsync(reply.Substring(0, reply.Length / 2));
                    while (!r.Connection.Closed)
                    {
                        // Silent but alive: a keep-alive probe would show the peer gone.
                        await Task.Delay(200);
                        await r.SendAsync(Array.Empty<byte>());
                    }
                };
                break;
            case "escapes":
                agent.Handler = r => r.Command switch
                {
                    "guest-info" => r.ReplyAsync(ExecGuestInfo),
                    "guest-get-host-name" => r.ReplyAsync("{\"return\": {\"host-name\": " + Json(Escapes) + "}}"),
                    "guest-get-osinfo" => r.ReplyAsync("{\"return\": {\"id\": \"x\", \"name\": " + Json(Escapes) + ", \"pretty-name\": " + Json(Escapes) + ", \"kernel-release\": " + Json(Escapes) + "}}"),
                    "guest-get-users" => r.ReplyAsync("{\"return\": [{\"user\": " + Json(Escapes) + ", \"login-time\": 1.5}]}"),
                    "guest-exec" => r.ReplyAsync("{\"return\": {\"pid\": 4242}}"),
                    "guest-exec-status" => r.ReplyAsync("{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": \"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("line one\n" + Escapes + "\n")) + "\", \"err-data\": \"" + Convert.ToBase64String(Encoding.UTF8.GetBytes(Escapes)) + "\"}}"),
                    "guest-file-open" => r.ReplyAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": " + Json("failed to open " + Escapes) + "}}"),
                    _ => FakeAgent.Normal(r),
                };
                break;
            case "forged-errors":
                agent.Handler = r => r.Command switch
                {
                    "guest-file-open" => r.ReplyAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": " + Json(ForgedPermission) + "}}"),
                    "guest-get-host-name" => r.ReplyAsync("{\"error\": {\"class\": \"GenericError\", \"desc\": " + Json(ForgedClass) + "}}"),
                    _ => FakeAgent.Normal(r),
                };
                break;
            case "exec-flood":
                agent.Handler = r => r.Command switch
                {
                    "guest-info" => r.ReplyAsync(ExecGuestInfo),
                    "guest-exec" => r.ReplyAsync("{\"return\": {\"pid\": 4242}}"),
                    "guest-exec-status" => r.ReplyAsync(s_execFlood.Value),
                    _ => FakeAgent.Normal(r),
                };
                break;
            case "bulk-bad-crc" or "bulk-overlong" or "bulk-over-bound" or "bulk-endless" or "bulk-silent":
                agent.Handler = r => r.Command switch
                {
                    "guest-info" => r.ReplyAsync(BulkGuestInfo),
                    "__com.qemuguest_guest-agent-capabilities" => r.ReplyAsync(BulkCapabilities),
                    "__com.qemuguest_guest-file-bulk" => SendBadFramesAsync(r, mode),
                    _ => FakeAgent.Normal(r),
                };
                break;
            default:
                if (HostileListings.TryApply(agent, mode))
                {
                    break;
                }
                throw new ArgumentException("unknown hostile mode '" + mode + "'; modes: " + string.Join(", ", All.Keys), nameof(mode));
        }
    }

    /// <summary>What the "escapes" mode puts in every string: a title change, a clipboard write (OSC 52), a screen clear, C1 CSI, DEL and a bidi override.</summary>
    public const string Escapes = "web01\u001b]0;pwned-title\u0007\u001b]52;c;cm0gLXJmIH4K\u0007\u001b[2J\u009b31m\u007f\u202Eexe.txt";

    /// <summary>"forged-errors", guest-file-open: the words of a permission failure, around a screen clear and a title change.</summary>
    public const string ForgedPermission = "Permission denied\u001b[2J\u001b]0;root shell\u0007\r\nerror: \u202Edeineb";

    /// <summary>"forged-errors", guest-get-host-name: a reply's class member written into the text.</summary>
    public const string ForgedClass = "{\"class\": \"CommandNotFound\", \"desc\": \"The command guest-get-host-name has not been found\"}";

    /// <summary>Decoded stdout size of the "exec-flood" mode.</summary>
    public const int ExecFloodBytes = 40 << 20;

    /// <summary>Like FakeAgent.GuestInfo, plus guest-exec and guest-exec-status (so the process cmdlets go ahead).</summary>
    public static string ExecGuestInfo { get; } = FakeAgent.GuestInfo.Replace("\"supported_commands\": [", "\"supported_commands\": [{\"name\": \"guest-exec\", \"enabled\": true, \"success-response\": true}, {\"name\": \"guest-exec-status\", \"enabled\": true, \"success-response\": true}, {\"name\": \"guest-get-osinfo\", \"enabled\": true, \"success-response\": true}, {\"name\": \"guest-get-users\", \"enabled\": true, \"success-response\": true}, ", StringComparison.Ordinal);

    private static readonly Lazy<string> s_execFlood = new(() =>
    {
        var bytes = new byte[ExecFloodBytes];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)('a' + (i % 26));
        }

        return "{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": \"" + Convert.ToBase64String(bytes) + "\", \"err-data\": \"\"}}";
    });

    /// <summary>Like FakeAgent.GuestInfo, plus the capabilities and bulk extensions (so a copy asks for the bulk mode).</summary>
    public static string BulkGuestInfo { get; } = FakeAgent.GuestInfo.Replace("\"supported_commands\": [", "\"supported_commands\": [{\"name\": \"__com.qemuguest_guest-agent-capabilities\", \"enabled\": true, \"success-response\": true}, {\"name\": \"__com.qemuguest_guest-file-bulk\", \"enabled\": true, \"success-response\": true}, ", StringComparison.Ordinal);

    private const string BulkCapabilities = "{\"return\": {\"version\": \"0.1.0\", \"max-message-bytes\": 67108863, \"max-read-count\": 50331648, \"max-write-count\": 50328576, "
        + "\"max-exec-output-bytes\": 16777216, \"max-exec-read-bytes\": 16777216, \"max-list-entries\": 10000, \"extensions\": [\"__com.qemuguest_guest-file-bulk\"], \"max-bulk-frame-bytes\": 1048576}}";

    /// <summary>Accepts the transfer like our agent, then breaks the frames as <paramref name="mode"/> says.</summary>
    private static async Task SendBadFramesAsync(FakeRequest r, string mode)
    {
        await r.ReplyAsync("{\"return\": {\"max-frame-bytes\": 1048576}}");
        byte[] payload = new byte[1000];
        payload.AsSpan().Fill((byte)'A');
        await r.SendAsync(Frame(payload, 0, payload.Length));
        switch (mode)
        {
            case "bulk-bad-crc":
                byte[] bad = Frame(payload, 1, payload.Length);
                bad[^1] ^= 0x20;
                await r.SendAsync(bad);
                break;
            case "bulk-overlong":
                byte[] longer = Frame(payload, 1, payload.Length);
                await r.SendAsync(longer.Concat(payload).ToArray());
                break;
            case "bulk-over-bound":
                await r.SendAsync(Frame(new byte[(1 << 20) + 1], 1, (1 << 20) + 1));
                break;
            case "bulk-silent":
                return;
            default:
                byte[] chunk = new byte[64 * 1024];
                for (uint seq = 1; !r.Connection.Closed && seq < 1_000_000; seq++)
                {
                    await r.SendAsync(Frame(chunk, seq, chunk.Length));
                }

                return;
        }

        await r.SendAsync(Frame(Array.Empty<byte>(), 2, 0));
        await r.ReplyAsync("{\"return\": {\"count\": 2000, \"eof\": true}}");
    }

    private static byte[] Frame(byte[] payload, uint sequence, int length)
    {
        byte[] frame = new byte[QemuGuest.Protocol.Framing.BulkFrame.HeaderBytes + length];
        QemuGuest.Protocol.Framing.BulkFrame.WriteHeader(frame, payload.AsSpan(0, length), sequence);
        payload.AsSpan(0, length).CopyTo(frame.AsSpan(QemuGuest.Protocol.Framing.BulkFrame.HeaderBytes));
        return frame;
    }

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    /// <summary>A reply the schema accepts for the command, so only the mode's lie is wrong.</summary>
    public static string ValidBody(FakeRequest r) => r.Command switch
    {
        "guest-get-time" => "{\"return\": 1234567890}",
        "guest-get-host-name" => "{\"return\": {\"host-name\": \"fake\"}}",
        "guest-file-open" => "{\"return\": 1000}",
        "guest-file-read" => "{\"return\": {\"count\": 0, \"buf-b64\": \"\", \"eof\": true}}",
        _ => "{\"return\": {}}",
    };

    private static string ValidReply(FakeRequest r)
    {
        string body = ValidBody(r);
        return body.Substring(0, body.LastIndexOf('}')) + r.IdMember + "}\n";
    }

    private static async Task SendHugeAsync(FakeRequest r, long size)
    {
        var chunk = new byte[1 << 20];
        chunk.AsSpan().Fill((byte)'A');
        await r.SendAsync("{\"return\": {\"host-name\": \"");
        for (long sent = 0; sent < size && !r.Connection.Closed; sent += chunk.Length)
        {
            await r.SendAsync(chunk);
        }

        await r.SendAsync("\"}" + r.IdMember + "}\n");
    }

    private static async Task SpamAsync(FakeConnection c, CancellationToken stop)
    {
        long n = 0;
        while (!stop.IsCancellationRequested && !c.Closed)
        {
            n++;
            await c.SendAsync((n % 2 == 0 ? "{\"return\": {}, \"id\": " + (900_000_000 + n) + "}" : "{\"return\": 1}") + "\n");
            try
            {
                await Task.Delay(5, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
