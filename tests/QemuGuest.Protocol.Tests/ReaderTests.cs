using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

public class ReaderTests
{
    internal static List<string> Run(JsonMessageReader reader, byte[] data, IEnumerable<int>? cuts = null, bool memory = false)
    {
        var results = new List<string>();
        var points = (cuts ?? Array.Empty<int>()).Where(c => c > 0 && c < data.Length).Distinct().OrderBy(c => c).ToList();
        points.Add(data.Length);
        int start = 0;
        foreach (int end in points)
        {
            var chunk = new ReadOnlyMemory<byte>(data, start, end - start);
            while (!chunk.IsEmpty)
            {
                JsonFrame frame = memory ? reader.Read(chunk, out int used) : reader.Read(chunk.Span, out used);
                Assert.True(used > 0 || frame.Kind != JsonFrameKind.None, "no progress");
                chunk = chunk.Slice(used);
                if (frame.Kind == JsonFrameKind.Message)
                {
                    results.Add("M:" + Encoding.UTF8.GetString(frame.Message.Span));
                }
                else if (frame.Kind != JsonFrameKind.None)
                {
                    results.Add(frame.ToString());
                }
            }

            start = end;
        }

        return results;
    }

    private static List<string> Run(string text, int maxBytes = 1 << 20, int maxDepth = 64) =>
        Run(new JsonMessageReader(maxBytes, maxDepth), Encoding.Latin1.GetBytes(text));

    [Fact]
    public void Splits_top_level_objects_without_newlines()
    {
        Assert.Equal(new[] { "M:{\"a\":1}", "M:{\"b\":[1,{\"c\":\"}\"}]}", "M:[1,2]" }, Run(" {\"a\":1}{\"b\":[1,{\"c\":\"}\"}]}\n\t[1,2]"));
    }

    [Fact]
    public void Strings_with_escaped_quotes_and_braces_do_not_close_the_message()
    {
        Assert.Equal(new[] { "M:{\"a\":\"x\\\"}{\\\\\"}" }, Run("{\"a\":\"x\\\"}{\\\\\"}"));
        Assert.Equal(new[] { "M:{'a':'}\"'}" }, Run("{'a':'}\"'}"));
    }

    [Fact]
    public void Top_level_scalars_are_values_too()
    {
        // A bare token is complete when a delimiter follows (QEMU holds "1" until then).
        Assert.Equal(new[] { "M:\"s\"", "M:1", "M:{}" }, Run("\"s\" 1{}"));
        Assert.Empty(Run("123"));
        Assert.Equal(new[] { "M:xyz", "M:{\"a\":1}" }, Run("xyz{\"a\":1}"));
    }

    [Fact]
    public void Stray_bytes_abort_the_half_read_message_once_each()
    {
        Assert.Equal(new[] { "StrayByte(0xFF)", "M:{\"return\": 5}" }, Run("{\"execute\":\"guest-ping\"\xff{\"return\": 5}"));
        Assert.Equal(new[] { "StrayByte(0xFF)", "StrayByte(0xFF)", "M:{}" }, Run("\xff\xff{}"));
        Assert.Equal(new[] { "StrayByte(0x01)", "M:{}" }, Run("\x01{}"));
        Assert.Equal(new[] { "StrayByte(0x00)", "M:{}" }, Run("\0{}"));
    }

    [Fact]
    public void Stray_byte_inside_a_string_then_recovers_like_qemu()
    {
        // qemu-ga 7.2 answers: stray '"gu\u0001', then "expecting value" for the '}', then the ping.
        Assert.Equal(
            new[] { "StrayByte(0x01)", "UnexpectedByte(0x7D)", "M:{\"execute\":\"guest-ping\",\"id\":1}" },
            Run("{\"execute\":\"gu\x01" + "est-ping\"}{\"execute\":\"guest-ping\",\"id\":1}"));
        Assert.Equal(new[] { "StrayByte(0xFE)", "UnexpectedByte(0x7D)", "M:{}" }, Run("{\"a\":\"\xfe\"}{}"));
    }

    [Fact]
    public void Closers_outside_a_value_are_unexpected()
    {
        Assert.Equal(new[] { "M:{}", "UnexpectedByte(0x7D)", "UnexpectedByte(0x2C)", "M:{}" }, Run("{}},{}"));
    }

    [Fact]
    public void Non_ascii_is_fine_in_strings_but_stray_outside()
    {
        Assert.Equal(new[] { "M:{\"a\":\"\u00e9\"}" }, Run("{\"a\":\"\xc3\xa9\"}"));
        Assert.Equal(new[] { "StrayByte(0xC3)", "UnexpectedByte(0x7D)", "M:{}" }, Run("{\xc3}{}"));
    }

    [Fact]
    public void Oversize_message_is_reported_then_the_next_one_is_read()
    {
        string big = "{\"a\":\"" + new string('x', 200) + "\",\"b\":{\"c\":[1,2,3]}}";
        var reader = new JsonMessageReader(maxMessageBytes: 64, maxDepth: 8);
        byte[] data = Encoding.ASCII.GetBytes(big + "{\"ok\":1}" + big + big + "{\"ok\":2}");
        var whole = Run(reader, data);
        Assert.Equal(new[] { "TooLarge", "M:{\"ok\":1}", "TooLarge", "TooLarge", "M:{\"ok\":2}" }, whole);
        for (int step = 1; step < 40; step += 3)
        {
            var cuts = Enumerable.Range(1, data.Length / step).Select(i => i * step);
            Assert.Equal(whole, Run(new JsonMessageReader(64, 8), data, cuts));
        }
    }

    [Fact]
    public void Top_level_garbage_tokens_and_strings_are_bounded_small()
    {
        string token = new string('a', 5000);
        string str = "\"" + new string('b', 5000) + "\"";
        Assert.Equal(new[] { "TooLarge", "TooLarge", "M:{}" }, Run(token + " " + str + "{}"));
        Assert.Equal(new[] { "M:{\"s\":\"" + new string('c', 5000) + "\"}" }, Run("{\"s\":\"" + new string('c', 5000) + "\"}"));
    }

    [Fact]
    public void Nesting_limit_is_reported_then_the_next_one_is_read()
    {
        string deep = new string('[', 10) + new string(']', 10);
        Assert.Equal(new[] { "TooDeep", "M:[[1]]" }, Run(deep + "[[1]]", maxDepth: 9));
        Assert.Equal(new[] { "M:" + deep }, Run(deep, maxDepth: 10));
    }

    [Fact]
    public void Memory_overload_hands_out_slices_and_copies_across_chunks()
    {
        byte[] data = Encoding.ASCII.GetBytes("{\"a\":1}{\"b\":2}");
        var reader = new JsonMessageReader();
        JsonFrame frame = reader.Read(data.AsMemory(), out int used);
        Assert.Equal(7, used);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(frame.Message, out ArraySegment<byte> seg) && seg.Array == data);
        Assert.Equal(new[] { "M:{\"a\":1}", "M:{\"b\":2}" }, Run(new JsonMessageReader(), data, new[] { 3, 9 }, memory: true));
    }

    [Fact]
    public void Parses_a_48_MiB_read_reply()
    {
        var payload = new byte[48 * 1024 * 1024];
        new Random(1).NextBytes(payload);
        byte[] reply = Encoding.ASCII.GetBytes("{\"return\": {\"count\": 50331648, \"buf-b64\": \"" + Convert.ToBase64String(payload) + "\", \"eof\": false}}\n");
        using var reader = new JsonMessageReader();
        var messages = new List<int>();
        for (int offset = 0; offset < reply.Length; offset += 65536)
        {
            ReadOnlySpan<byte> chunk = reply.AsSpan(offset, Math.Min(65536, reply.Length - offset));
            while (!chunk.IsEmpty)
            {
                JsonFrame frame = reader.Read(chunk, out int used);
                chunk = chunk.Slice(used);
                if (frame.Kind == JsonFrameKind.Message)
                {
                    using var doc = JsonDocument.Parse(frame.Message);
                    Assert.Equal(payload.Length, doc.RootElement.GetProperty("return").GetProperty("buf-b64").GetBytesFromBase64().Length);
                    messages.Add(frame.Message.Length);
                }
                else
                {
                    Assert.Equal(JsonFrameKind.None, frame.Kind);
                }
            }
        }

        Assert.Equal(new[] { reply.Length - 1 }, messages);
    }

    // ---- properties -----------------------------------------------------------------------

    private static readonly Gen<string> JsonText = Gen.String.Select(Gen.Int[0, 3], Gen.Int[-1000, 1000], (s, shape, n) =>
    {
        string str = JsonSerializer.Serialize(s);
        return shape switch
        {
            0 => "{\"return\": " + str + ", \"id\": " + n + "}",
            1 => "[" + n + ", " + str + ", {\"k\": [" + str + "]}]",
            2 => "{\"a\":{\"b\":{\"c\":" + str + "}}}",
            _ => "{'sq': '" + s.Replace("\\", "").Replace("'", "") + "'}",
        };
    }).Where(t => !t.Contains('\u0000'));

    [Fact]
    public void Property_any_split_of_valid_stream_gives_the_same_messages()
    {
        Gen.Select(JsonText.List[0, 8], Gen.Int[0, 3].List[0, 8], Gen.Int[0, 4000].Array[0, 12], Gen.Bool)
            .Sample((messages, spaces, cuts, memory) =>
            {
                var sb = new StringBuilder();
                for (int i = 0; i < messages.Count; i++)
                {
                    sb.Append(' ', i < spaces.Count ? spaces[i] : 0).Append(i % 2 == 0 ? "" : "\n").Append(messages[i]);
                }

                byte[] data = Encoding.UTF8.GetBytes(sb.ToString());
                var expected = messages.Select(m => "M:" + m).ToList();
                Assert.Equal(expected, Run(new JsonMessageReader(), data, cuts, memory));
            }, iter: 400);
    }

    [Fact]
    public void Property_any_split_of_garbage_gives_the_same_results_as_no_split()
    {
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, 400].Array[0, 20])
            .Sample((garbage, cuts) =>
            {
                var whole = Run(new JsonMessageReader(64, 4), garbage);
                Assert.Equal(whole, Run(new JsonMessageReader(64, 4), garbage, cuts));
                Assert.Equal(whole, Run(new JsonMessageReader(64, 4), garbage, cuts, memory: true));
            }, iter: 2000);
    }

    [Fact]
    public void Property_a_message_after_garbage_and_0xFF_is_always_recovered()
    {
        Gen.Select(Gen.Byte.Array[0, 200], JsonText, Gen.Int[0, 600].Array[0, 10])
            .Sample((garbage, message, cuts) =>
            {
                byte[] data = garbage.Concat(new byte[] { 0xFF }).Concat(Encoding.UTF8.GetBytes(message)).ToArray();
                var results = Run(new JsonMessageReader(), data, cuts);
                Assert.Equal("M:" + message, results[^1]);
                Assert.Contains("StrayByte(0xFF)", results);
            }, iter: 1000);
    }

    [Fact]
    public void Property_every_message_parses_or_is_garbage_the_parser_rejects()
    {
        // Whatever the reader hands out is bounded by the limit, whatever the input.
        Gen.Select(Gen.Byte.Array[0, 500], Gen.Int[0, 600].Array[0, 10])
            .Sample((garbage, cuts) =>
            {
                foreach (string r in Run(new JsonMessageReader(32, 3), garbage, cuts))
                {
                    if (r.StartsWith("M:", StringComparison.Ordinal))
                    {
                        Assert.True(Encoding.UTF8.GetByteCount(r) - 2 <= 32 * 3);
                    }
                }
            }, iter: 1000);
    }

    [Fact]
    public void A_large_buffer_is_kept_while_large_messages_keep_coming()
    {
        // Issue 19: a transfer's large replies each grew a new buffer by doubling. Now the
        // buffer of one large message serves the next; a small message or ReleaseLargeBuffer
        // lets it go (one burst of large messages does not pin it).
        using var reader = new JsonMessageReader();
        byte[] Large(char c) => Encoding.ASCII.GetBytes("\"" + new string(c, 3 << 20) + "\"").Prepend((byte)'[').Append((byte)']').ToArray();
        byte[] BufferOf(byte[] message)
        {
            byte[]? array = null;
            for (int offset = 0; offset < message.Length; offset += 65536)
            {
                JsonFrame frame = reader.Read(message.AsSpan(offset, Math.Min(65536, message.Length - offset)), out int used);
                Assert.Equal(Math.Min(65536, message.Length - offset), used);
                if (frame.Kind == JsonFrameKind.Message)
                {
                    Assert.Equal(message.Length, frame.Message.Length);
                    Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(frame.Message, out ArraySegment<byte> segment));
                    array = segment.Array;
                }
            }

            return array ?? throw new InvalidOperationException("no message");
        }

        byte[] first = BufferOf(Large('a'));
        Assert.Same(first, BufferOf(Large('b')));
        byte[] small = Encoding.ASCII.GetBytes("{\"return\": {}}");
        BufferOf(small);
        Assert.NotSame(first, BufferOf(Large('c')));
        byte[] kept = BufferOf(Large('d'));
        reader.ReleaseLargeBuffer();
        Assert.NotSame(kept, BufferOf(Large('e')));
    }
}
