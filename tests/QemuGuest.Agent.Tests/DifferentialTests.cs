using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The differential suite: the same request to both agents, replies compared by shape,
/// error class and (where deterministic) desc. Only side-effect-free requests are sent;
/// the dangerous commands appear only with arguments that fail validation.
/// </summary>
public sealed class DifferentialTests : IClassFixture<AgentPair>
{
    private readonly AgentPair _pair;

    public DifferentialTests(AgentPair pair) => _pair = pair;

    public static TheoryData<string, string> Requests => new()
    {
        { "Exact", """{"execute":"guest-ping"}""" },
        { "Exact", """{"execute":"guest-ping","id":[1,"two",{"3":null}]}""" },
        { "Exact", """{"execute":"guest-sync","arguments":{"id":123456789}}""" },
        { "Exact", """{"execute":"guest-sync","arguments":{"id":-5},"id":"x"}""" },
        { "Exact", """{"execute":"guest-get-host-name"}""" },
        { "Exact", """{"execute":"guest-get-timezone"}""" },
        { "Exact", """{"execute":"guest-get-osinfo"}""" },
        { "Exact", """{"execute":"guest-fsfreeze-status"}""" },
        { "Exact", """{"execute":"guest-fsfreeze-thaw"}""" },
        { "Exact", """{"execute":"guest-get-memory-block-info"}""" },
        { "Exact", """{"execute":"guest-get-users"}""" },
        { "Exact", """{"execute":"guest-set-vcpus","arguments":{"vcpus":[]}}""" },
        { "Exact", """{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":99999,"online":true}]}}""" },
        { "Exact", """{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":-1,"online":true}]}}""" },
        { "Exact", """{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"daemon"}}""" },
        { "Exact", """{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"no-such-user-qg"}}""" },
        { "Exact", """{'execute':'guest-ping'}""" },
        { "Shape", """{"execute":"guest-get-time"}""" },
        { "Shape", """{"execute":"guest-get-fsinfo"}""" },
        { "Names", """{"execute":"guest-network-get-interfaces"}""" },
        { "Unordered", """{"execute":"guest-get-vcpus"}""" },
        { "Unordered", """{"execute":"guest-get-memory-blocks"}""" },
        { "Names", """{"execute":"guest-get-cpustats"}""" },
        { "Names", """{"execute":"guest-get-diskstats"}""" },
        { "Names", """{"execute":"guest-get-disks"}""" },
        { "Names", """{"execute":"guest-get-fsinfo"}""" },
        { "Error", """{"execute":"guest-no-such-command","id":7}""" },
        { "Error", """{"execute":"guest-ping","arguments":{"foo":42}}""" },
        { "Error", """{"execute":"guest-ping","bogus":1,"id":1}""" },
        { "Error", """{"exec-oob":"guest-ping"}""" },
        { "Error", """{"arguments":{}}""" },
        { "Error", """[1,2]""" },
        { "Error", """{"execute":1}""" },
        { "Error", """{"execute":"guest-ping","arguments":[]}""" },
        { "Error", """{"execute":"guest-sync"}""" },
        { "Error", """{"execute":"guest-sync","arguments":{"id":"x"}}""" },
        { "Error", """{"execute":"guest-file-read","arguments":{"handle":424242}}""" },
        { "Error", """{"execute":"guest-file-read","arguments":{"handle":1.5}}""" },
        { "Error", """{"execute":"guest-file-close","arguments":{"handle":424242}}""" },
        { "Error", """{"execute":"guest-file-open","arguments":{"path":"/nonexistent/dir/f"}}""" },
        { "Error", """{"execute":"guest-file-open","arguments":{"path":"/tmp","mode":"rw"}}""" },
        { "Error", """{"execute":"guest-file-seek","arguments":{"handle":1,"offset":0,"whence":"bogus"}}""" },
        { "Error", """{"execute":"guest-file-seek","arguments":{"handle":1,"offset":0,"whence":true}}""" },
        { "Error", """{"execute":"guest-exec-status","arguments":{"pid":0}}""" },
        { "Error", """{"execute":"guest-exec","arguments":{"path":"/bin/invalid-cmd42"}}""" },
        { "Error", """{"execute":"guest-exec","arguments":{"path":"true","input-data":"!!"}}""" },
        { "Error", """{"execute":"guest-exec","arguments":{"path":"true","arg":"notalist"}}""" },
        { "Error", """{"execute":"guest-shutdown","arguments":{"mode":"bogus"}}""" },
        { "Error", """{"execute":"guest-set-time","arguments":{"time":-5}}""" },
        { "Error", """{"execute":"guest-set-user-password","arguments":{"username":"nouser","password":"!!","crypted":false}}""" },
        { "Error", """{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"no-such-user-qga"}}""" },
        { "Error", """{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"no-such-user-qga","keys":["k"]}}""" },
        { "ErrorClass", """{"a":1 1}""" },

        // Syntax errors in QEMU's words (json-lexer.c / json-parser.c; cases after
        // tests/unit/check-qjson.c): the first error of each message, text and all.
        { "Error", """[32,}""" },
        { "Error", """{'abc':32,}""" },
        { "Error", """{32:'abc'}""" },
        { "Error", """{"a" 1}""" },
        { "Error", """{"a":}""" },
        { "Error", """[1,]""" },
        { "Error", """{,}""" },
        { "Error", """[,1]""" },
        { "Error", """{"a":1,,"b":2}""" },
        { "Error", """{"execute":"guest-ping",}""" },
        { "Error", """[1 2]""" },
        { "Error", """{"a":1 "b":2}""" },
        { "Error", """{"a":tru}""" },
        { "Error", """{"a":nul}""" },
        { "Error", """truer """ },
        { "Error", """nul """ },
        { "Error", """{"a":-}""" },
        { "Error", """{"a":"\x"}""" },
        { "Error", """{"a":"\u12"}""" },
        { "Error", """{"a":"\u12zz"}""" },
        { "Error", """{"execute":"guest-ping","id":1,"id":2}""" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void SameReply(string mode, string request)
    {
        lock (_pair.Gate)
        {
            JsonElement stock = _pair.Stock.Execute(request);
            JsonElement ours = _pair.Ours.Execute(request);
            Judge(Enum.Parse<Compare>(mode), request, stock, ours);
        }
    }

    [Fact]
    public void StrayBytesGiveOneErrorEach()
    {
        lock (_pair.Gate)
        {
            foreach (byte b in new byte[] { 0xFF, 0x01, (byte)'}' })
            {
                _pair.Stock.SendRaw(new[] { b });
                _pair.Ours.SendRaw(new[] { b });
                JsonElement stock = _pair.Stock.ReadReply();
                JsonElement ours = _pair.Ours.ReadReply();
                Judge(Compare.Error, "byte " + b, stock, ours);
                Assert.True(_pair.Ours.IsQuiet(200), "exactly one reply per stray byte");
            }
        }
    }

    /// <summary>
    /// Input that breaks a parser limit (size, depth, token count) or is a bare scalar: qemu-ga
    /// drops the tokens read so far and the offending one, then reads what is left as new input,
    /// so the rest of the value earns its own replies (1,025 closing brackets: 1,025 errors).
    /// Both agents must send the same replies in the same number. Sizes are QEMU's
    /// MAX_TOKEN_SIZE (64 MiB) counted over tokens only, probed at the bound and either side.
    /// </summary>
    public static TheoryData<string> LimitCases => new()
    {
        "depth 1025 brackets", "depth 1025 members", "tokens 2Mi+1", "tokens 2Mi+1 ending in a string", "tokens 2Mi+1 ending in a number",
        "token bytes 64Mi-1", "token bytes 64Mi", "token bytes 64Mi+1", "token bytes 64Mi-1 with spaces between",
        "top-level string 2000 bytes", "top-level number 2000 digits",
    };

    [Theory]
    [MemberData(nameof(LimitCases))]
    public void LimitsGiveTheSameRepliesInTheSameNumber(string name)
    {
        byte[] input = LimitInput(name);
        lock (_pair.Gate)
        {
            List<JsonElement> stock = _pair.Stock.RepliesBeforeSync(input, 4242, TimeSpan.FromMinutes(2));
            List<JsonElement> ours = _pair.Ours.RepliesBeforeSync(input, 4242, TimeSpan.FromMinutes(2));
            bool same = stock.Count == ours.Count && stock.Zip(ours).All(p => JsonCompare.DeepEquals(p.First, p.Second));
            Assert.True(same, name + ": the replies differ\nstock (" + stock.Count + "): " + Head(stock) + "\nours (" + ours.Count + "):  " + Head(ours));
        }

        static string Head(List<JsonElement> replies)
        {
            string s = string.Join("\n", replies.Select(r => r.GetRawText()));
            return s.Length > 2000 ? s.Substring(0, 2000) + "... (" + s.Length + " chars)" : s;
        }
    }

    private static byte[] LimitInput(string name)
    {
        const int m = 64 * 1024 * 1024;
        static byte[] Repeat(string s, int n) => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(s, n)));

        // guest-ping refuses any argument, so the padding never comes back in a reply.
        static byte[] Padded(int tokenBytes, string between = "")
        {
            byte[] head = Encoding.ASCII.GetBytes("{\"execute\":" + between + "\"guest-ping\"," + between + "\"arguments\":{\"x\":\"");
            byte[] tail = Encoding.ASCII.GetBytes("\"}}");
            int fixedTokens = head.Length + tail.Length - (between.Length * 2);
            byte[] all = new byte[head.Length + (tokenBytes - fixedTokens) + tail.Length];
            head.CopyTo(all, 0);
            all.AsSpan(head.Length, tokenBytes - fixedTokens).Fill((byte)'a');
            tail.CopyTo(all, all.Length - tail.Length);
            return all;
        }

        return name switch
        {
            "depth 1025 brackets" => [.. Repeat("[", 1025), .. Repeat("]", 1025)],
            "depth 1025 members" => [.. Repeat("{\"a\":", 1025), (byte)'1', .. Repeat("}", 1025)],
            "tokens 2Mi+1" => [(byte)'[', .. Repeat("1,", 1024 * 1024), .. "2,3,4,5,6]"u8],
            "tokens 2Mi+1 ending in a string" => [(byte)'[', .. Repeat("1,", (1024 * 1024) - 1), .. "1\"abc\",\"def\"]"u8],
            "tokens 2Mi+1 ending in a number" => [(byte)'[', .. Repeat("1,", (1024 * 1024) - 1), .. ",123456,7]"u8],
            "token bytes 64Mi-1" => Padded(m - 1),
            "token bytes 64Mi" => Padded(m),
            "token bytes 64Mi+1" => Padded(m + 1),
            "token bytes 64Mi-1 with spaces between" => Padded(m - 1, "   "),
            "top-level string 2000 bytes" => [(byte)'"', .. Repeat("a", 2000), (byte)'"'],
            "top-level number 2000 digits" => [.. Repeat("1", 2000), (byte)' '],
            _ => throw new ArgumentException(name),
        };
    }

    [Fact]
    public void HalfRequestThenDelimiterResyncs()
    {
        lock (_pair.Gate)
        {
            foreach (AgentProcess agent in new[] { _pair.Stock, _pair.Ours })
            {
                agent.Send("""{"execute":"guest-ping" """);
                agent.SendRaw(new byte[] { 0xFF });
                agent.Send("""{"execute":"guest-sync-delimited","arguments":{"id":99}}""");
                JsonElement error = agent.ReadReply();
                Assert.Equal("GenericError", error.GetProperty("error").GetProperty("class").GetString());
                byte[] line = agent.ReadLine(out bool delimited);
                Assert.True(delimited, agent.Kind + ": sync-delimited reply starts with 0xFF");
                Assert.Equal(99, JsonDocument.Parse(line).RootElement.GetProperty("return").GetInt64());
            }
        }
    }

    [Fact]
    public void FileRoundTripMatches()
    {
        lock (_pair.Gate)
        {
            var replies = new Dictionary<AgentKind, List<JsonElement>>();
            foreach (AgentProcess agent in new[] { _pair.Stock, _pair.Ours })
            {
                string path = System.IO.Path.Combine(agent.StateDir, "diff.txt");
                var list = new List<JsonElement>();
                JsonElement open = agent.Execute($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w+"}}""");
                list.Add(open);
                long h = open.GetProperty("return").GetInt64();
                list.Add(agent.Execute($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{h}}},"buf-b64":"SGVsbG8gV29ybGQhCgA="}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{h}}},"buf-b64":"aGk=","count":9}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{h}}},"buf-b64":"a b"}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}}}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-seek","arguments":{"handle":{{{h}}},"offset":6,"whence":"set"}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":3}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-seek","arguments":{"handle":{{{h}}},"offset":-2,"whence":2}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":2}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":2}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":-1}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":50331649}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-seek","arguments":{"handle":{{{h}}},"offset":0,"whence":7}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-flush","arguments":{"handle":{{{h}}}}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{h}}}}}"""));
                list.Add(agent.Execute($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{h}}}}}"""));
                replies[agent.Kind] = list;
            }

            for (int i = 0; i < replies[AgentKind.Stock].Count; i++)
            {
                JsonElement s = replies[AgentKind.Stock][i];
                JsonElement o = replies[AgentKind.Ours][i];
                if (s.TryGetProperty("error", out _))
                {
                    Judge(Compare.ErrorClass, "file step " + i, s, o);
                }
                else
                {
                    Judge(Compare.Exact, "file step " + i, s, o);
                }
            }
        }
    }

    /// <summary>
    /// Reads whose lengths end on each base64 padding case (0, 1 and 2 bytes over a group of
    /// three), of random bytes so that '+' and '/' occur: ours encodes buf-b64 straight from the
    /// bytes read into the reply (issue 19), and the text must be what stock's g_base64_encode
    /// gives.
    /// </summary>
    [Fact]
    public void BlockReadsOfRandomBytesMatch()
    {
        lock (_pair.Gate)
        {
            byte[] content = new byte[(200 * 1024) + 5];
            new Random(19).NextBytes(content);
            var replies = new Dictionary<AgentKind, List<JsonElement>>();
            foreach (AgentProcess agent in new[] { _pair.Stock, _pair.Ours })
            {
                string path = System.IO.Path.Combine(agent.StateDir, "random.bin");
                System.IO.File.WriteAllBytes(path, content);
                var list = new List<JsonElement>();
                long h = agent.Execute($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"rb"}}""").GetProperty("return").GetInt64();
                foreach (int count in new[] { 65536, 65537, 65538, 1, 2, 3, 100000, 4096 })
                {
                    list.Add(agent.Execute($$$"""{"execute":"guest-file-read","arguments":{"handle":{{{h}}},"count":{{{count}}}}}"""));
                }

                list.Add(agent.Execute($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{h}}}}}"""));
                replies[agent.Kind] = list;
            }

            for (int i = 0; i < replies[AgentKind.Stock].Count; i++)
            {
                Judge(Compare.Exact, "random read " + i, replies[AgentKind.Stock][i], replies[AgentKind.Ours][i]);
            }
        }
    }

    /// <summary>
    /// buf-b64 that is not canonical (no padding, '=' inside, a partial group, "\n"): both agents
    /// write the same bytes — GLib's g_base64_decode decides, and ours must not "repair" input.
    /// </summary>
    [Theory]
    [InlineData("YWJjZA")]
    [InlineData("YWJjZA=")]
    [InlineData("YQ==YQ==")]
    [InlineData("aG=k")]
    [InlineData("====")]
    [InlineData("YQ")]
    [InlineData("=AAA")]
    [InlineData("Y=Q=")]
    [InlineData("YWJj\nZA")]
    public void NonCanonicalBase64WritesTheSameBytes(string b64)
    {
        lock (_pair.Gate)
        {
            var written = new Dictionary<AgentKind, (string Reply, string Hex)>();
            foreach (AgentProcess agent in new[] { _pair.Stock, _pair.Ours })
            {
                string path = System.IO.Path.Combine(agent.StateDir, "b64.bin");
                File.Delete(path);
                long h = agent.Execute($$$"""{"execute":"guest-file-open","arguments":{"path":"{{{path}}}","mode":"w"}}""").GetProperty("return").GetInt64();
                JsonElement reply = agent.Execute($$$"""{"execute":"guest-file-write","arguments":{"handle":{{{h}}},"buf-b64":{{{JsonSerializer.Serialize(b64)}}}}}""");
                agent.Execute($$$"""{"execute":"guest-file-close","arguments":{"handle":{{{h}}}}}""");
                written[agent.Kind] = (reply.GetRawText(), Convert.ToHexString(File.ReadAllBytes(path)));
            }

            Assert.Equal(written[AgentKind.Stock].Hex, written[AgentKind.Ours].Hex);
            Assert.Equal(
                JsonDocument.Parse(written[AgentKind.Stock].Reply).RootElement.GetProperty("return").GetProperty("count").GetInt64(),
                JsonDocument.Parse(written[AgentKind.Ours].Reply).RootElement.GetProperty("return").GetProperty("count").GetInt64());
        }
    }

    /// <summary>
    /// In a fresh network namespace lo is down with no address: qemu-ga lists it with its
    /// hardware address and no statistics (it reads counters only for an interface it found an
    /// address on); ours attached /proc/net/dev counters to it.
    /// </summary>
    [Fact]
    public void AnInterfaceWithoutAddressHasNoStatistics()
    {
        var replies = new Dictionary<AgentKind, string>();
        foreach (AgentKind kind in new[] { AgentKind.Stock, AgentKind.Ours })
        {
            using var agent = new AgentProcess(kind, wrap: RealAgentProcess.InNewNetworkNamespace);
            replies[kind] = agent.Execute("""{"execute":"guest-network-get-interfaces"}""").GetRawText();
        }

        Assert.Equal(
            """{"return":[{"name":"lo","hardware-address":"00:00:00:00:00:00"}]}""",
            JsonSerializer.Serialize(JsonDocument.Parse(replies[AgentKind.Stock]).RootElement));
        Assert.Equal(
            JsonSerializer.Serialize(JsonDocument.Parse(replies[AgentKind.Stock]).RootElement),
            JsonSerializer.Serialize(JsonDocument.Parse(replies[AgentKind.Ours]).RootElement));
    }

    [Fact]
    public void ExecRoundTripMatches()
    {
        lock (_pair.Gate)
        {
            var finals = new List<JsonElement>();
            foreach (AgentProcess agent in new[] { _pair.Stock, _pair.Ours })
            {
                long pid = agent.Execute("""{"execute":"guest-exec","arguments":{"path":"sh","arg":["-c","printf out; printf err >&2; exit 3"],"capture-output":true,"input-data":"aWdub3JlZA=="}}""")
                    .GetProperty("return").GetProperty("pid").GetInt64();
                JsonElement status = default;
                var deadline = DateTime.UtcNow.AddSeconds(10);
                do
                {
                    status = agent.Execute($$$"""{"execute":"guest-exec-status","arguments":{"pid":{{{pid}}}}}""");
                    if (status.GetProperty("return").GetProperty("exited").GetBoolean())
                    {
                        break;
                    }

                    Thread.Sleep(20);
                }
                while (DateTime.UtcNow < deadline);
                finals.Add(status);
                JsonElement again = agent.Execute($$$"""{"execute":"guest-exec-status","arguments":{"pid":{{{pid}}}}}""");
                Assert.Equal("Invalid parameter 'pid'", again.GetProperty("error").GetProperty("desc").GetString());
            }

            Judge(Compare.Exact, "exec", finals[0], finals[1]);
        }
    }

    [Fact]
    public void GuestInfoAgreesOnCommonCommands()
    {
        lock (_pair.Gate)
        {
            var stock = Commands(_pair.Stock.Execute("""{"execute":"guest-info"}"""));
            var ours = Commands(_pair.Ours.Execute("""{"execute":"guest-info"}"""));
            foreach (var (name, info) in stock)
            {
                if (!info.Enabled)
                {
                    continue; // 7.2 registers compiled-out commands as disabled; we omit them ("not found")
                }

                Assert.True(ours.ContainsKey(name), "ours lacks " + name);
                Assert.Equal(info, ours[name]);
            }
        }
    }

    /// <summary>
    /// A previous instance exited frozen (STATEDIR/qga.state.isfrozen exists): both agents start
    /// with only the freeze-safe commands enabled, and guest-fsfreeze-thaw reopens the gate.
    /// (Thaw on filesystems that are not frozen is a no-op; nothing is ever frozen here.)
    /// </summary>
    [Fact]
    public void StartsFrozenWhenMarkerLeftBehind()
    {
        var replies = new List<List<JsonElement>>();
        foreach (AgentKind kind in new[] { AgentKind.Stock, AgentKind.Ours })
        {
            using var agent = new AgentProcess(kind, string.Empty, null, dir => File.WriteAllText(Path.Combine(dir, "qga.state.isfrozen"), string.Empty));
            var list = new List<JsonElement>
            {
                agent.Execute("""{"execute":"guest-fsfreeze-status"}"""),
                agent.Execute("""{"execute":"guest-ping"}"""),
                agent.Execute("""{"execute":"guest-get-time","id":3}"""),
                agent.Execute("""{"execute":"guest-file-open","arguments":{"path":"/etc/hostname"}}"""),
                agent.Execute("""{"execute":"guest-fsfreeze-thaw"}"""),
                agent.Execute("""{"execute":"guest-fsfreeze-status"}"""),
            };
            JsonElement open = agent.Execute("""{"execute":"guest-file-open","arguments":{"path":"/etc/hostname"}}""");
            Assert.True(open.TryGetProperty("return", out _), kind + ": " + open.GetRawText());
            Assert.False(File.Exists(Path.Combine(agent.StateDir, "qga.state.isfrozen")));
            replies.Add(list);
        }

        for (int i = 0; i < replies[0].Count; i++)
        {
            Judge(replies[0][i].TryGetProperty("error", out _) ? Compare.Error : Compare.Exact, "frozen step " + i, replies[0][i], replies[1][i]);
        }
    }

    private static Dictionary<string, (bool Enabled, bool SuccessResponse)> Commands(JsonElement reply) =>
        reply.GetProperty("return").GetProperty("supported_commands").EnumerateArray().ToDictionary(
            c => c.GetProperty("name").GetString()!,
            c => (c.GetProperty("enabled").GetBoolean(), c.GetProperty("success-response").GetBoolean()));

    internal static void Judge(Compare mode, string request, JsonElement stock, JsonElement ours)
    {
        string context = request + "\nstock: " + stock.GetRawText() + "\nours:  " + ours.GetRawText();
        switch (mode)
        {
            case Compare.Exact:
                Assert.True(JsonCompare.DeepEquals(stock, ours), context);
                break;
            case Compare.Shape:
            case Compare.Names:
                Assert.True(stock.TryGetProperty("return", out JsonElement sr), context);
                Assert.True(ours.TryGetProperty("return", out JsonElement or), context);
                string? diff = JsonCompare.ShapeSubset(sr, or);
                Assert.True(diff is null, diff + "\n" + context);
                if (mode == Compare.Names)
                {
                    static string Key(JsonElement e) => e.TryGetProperty("name", out JsonElement n) ? n.GetString()! : e.GetProperty("cpu").GetRawText();
                    var sn = sr.EnumerateArray().Select(Key).OrderBy(x => x, StringComparer.Ordinal).ToList();
                    var on = or.EnumerateArray().Select(Key).OrderBy(x => x, StringComparer.Ordinal).ToList();
                    Assert.True(sn.SequenceEqual(on), "names differ: stock [" + string.Join(",", sn) + "] ours [" + string.Join(",", on) + "]\n" + context);
                }

                break;
            case Compare.Unordered:
                var sa = stock.GetProperty("return").EnumerateArray().Select(e => e.Clone()).ToList();
                var oa = ours.GetProperty("return").EnumerateArray().Select(e => e.Clone()).ToList();
                Assert.True(sa.Count == oa.Count, context);
                foreach (JsonElement e in sa)
                {
                    int i = oa.FindIndex(o => JsonCompare.DeepEquals(e, o));
                    Assert.True(i >= 0, "ours lacks " + e.GetRawText() + "\n" + context);
                    oa.RemoveAt(i);
                }

                break;
            case Compare.Error:
            case Compare.ErrorClass:
                Assert.True(stock.TryGetProperty("error", out JsonElement se), context);
                Assert.True(ours.TryGetProperty("error", out JsonElement oe), context);
                Assert.Equal(se.GetProperty("class").GetString(), oe.GetProperty("class").GetString());
                if (mode == Compare.Error)
                {
                    Assert.True(se.GetProperty("desc").GetString() == oe.GetProperty("desc").GetString(), context);
                }

                Assert.Equal(stock.TryGetProperty("id", out JsonElement sid), ours.TryGetProperty("id", out JsonElement oid));
                if (stock.TryGetProperty("id", out sid))
                {
                    Assert.True(JsonCompare.DeepEquals(sid, oid), context);
                }

                break;
        }
    }
}
