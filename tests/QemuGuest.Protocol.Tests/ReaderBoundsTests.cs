using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The token bound (QEMU's MAX_TOKEN_COUNT, counted as its json-streamer counts) and the
/// properties that tie the reader's three bounds together: any split, any garbage.
/// </summary>
public class ReaderBoundsTests
{
    private static List<string> Run(string text, int maxTokens, int maxBytes = 1 << 20, int maxDepth = 64) =>
        ReaderTests.Run(new JsonMessageReader(maxBytes, maxDepth, maxTokens), Encoding.Latin1.GetBytes(text));

    [Theory]
    // { "a" : 1 } = 5 tokens; [1,2,3] = 7; strings and bare tokens are one each however long.
    [InlineData("{\"a\": 1}", 5)]
    [InlineData("[1,2,3]", 7)]
    [InlineData("{\"a\": [true, null, -1.5e3, \"x\\\"y\"]}", 13)]
    [InlineData("{'sq': 'it''s'}", 6)]
    public void Counts_tokens_as_qemu_does(string message, int tokens)
    {
        Assert.Equal(new[] { "M:" + message }, Run(message, tokens));
        Assert.Equal(new[] { "TooManyTokens" }, Run(message, tokens - 1));
    }

    [Fact]
    public void Too_many_tokens_is_reported_once_then_the_next_message_is_read()
    {
        string many = "[" + string.Join(",", Enumerable.Repeat("1", 100)) + "]";
        byte[] data = Encoding.ASCII.GetBytes(many + "{\"ok\":1}" + many + "[[1,[2]],3]");
        var whole = ReaderTests.Run(new JsonMessageReader(1 << 20, 64, 50), data);
        Assert.Equal(new[] { "TooManyTokens", "M:{\"ok\":1}", "TooManyTokens", "M:[[1,[2]],3]" }, whole);
        for (int step = 1; step < 60; step += 7)
        {
            Assert.Equal(whole, ReaderTests.Run(new JsonMessageReader(1 << 20, 64, 50), data, Enumerable.Range(1, data.Length / step).Select(i => i * step)));
        }
    }

    [Theory]
    // The token that crosses the bound is each kind of byte in turn: the value's own effect
    // (depth, string, end) must still apply, or the rest of the stream is framed wrong.
    [InlineData("[[[1]]]{}", 2)]
    [InlineData("[[[1]]]{}", 3)]
    [InlineData("[[[1]]]{}", 4)]
    [InlineData("[[[1]]]{}", 5)]
    [InlineData("[[[1]]]{}", 6)]
    [InlineData("[\"]\",\"[\"]{}", 2)]
    [InlineData("[\"]\",\"[\"]{}", 3)]
    [InlineData("[\"]\",\"[\"]{}", 4)]
    public void Crossing_the_bound_on_any_byte_keeps_the_stream_in_step(string text, int maxTokens)
    {
        Assert.Equal(new[] { "TooManyTokens", "M:{}" }, Run(text, maxTokens));
    }

    [Fact]
    public void A_million_commas_cost_no_memory()
    {
        // Skipped tokens are never stored: the reader's buffer stays at the bytes before the bound.
        byte[] data = Encoding.ASCII.GetBytes("[" + new string(',', 1_000_000) + "]{}");
        Assert.Equal(new[] { "TooManyTokens", "M:{}" }, ReaderTests.Run(new JsonMessageReader(64 << 20, 64, 1000), data, Enumerable.Range(1, 100).Select(i => i * 10_000)));
    }

    [Fact]
    public void Rejects_a_token_bound_below_two()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new JsonMessageReader(100, 10, 1));
        Assert.Equal("maxTokens", e.ParamName);
        Assert.Equal(1, e.ActualValue);
    }

    // ---- properties -----------------------------------------------------------------------

    private static Gen<T> Pick<T>(params T[] items) => Gen.Int[0, items.Length - 1].Select(i => items[i]);

    private static readonly Gen<string> Text = Gen.Char.Where(c => !char.IsSurrogate(c)).Array[0, 12].Select(a => new string(a));

    /// <summary>An arbitrary JSON value (a QObject: dict, list, str, int, float, bool, null).</summary>
    internal static readonly Gen<string> QObject = Gen.Recursive<string>((depth, self) =>
    {
        var scalar = Gen.OneOf(
            Text.Select(s => JsonSerializer.Serialize(s)),
            Gen.Long.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Double.Where(double.IsFinite).Select(d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
            Pick("true", "false", "null"));
        if (depth >= 4)
        {
            return scalar;
        }

        return Gen.Frequency(
            (3, scalar),
            (1, self.List[0, 5].Select(items => "[" + string.Join(",", items) + "]")),
            (1, Gen.Select(Text, self).List[0, 5].Select(members =>
                "{" + string.Join(",", members.GroupBy(m => m.Item1).Select(g => JsonSerializer.Serialize(g.Key) + ":" + g.First().Item2)) + "}")));
    });

    [Fact]
    public void Property_the_token_bound_is_exact_for_any_value()
    {
        QObject.Where(v => v.StartsWith('{') || v.StartsWith('[')).Sample(value =>
        {
            int tokens = QemuTokens(value);
            byte[] data = Encoding.UTF8.GetBytes(value + "{}");
            Assert.Equal(new[] { "M:" + value, "M:{}" }, ReaderTests.Run(new JsonMessageReader(1 << 20, 64, tokens), data));
            if (tokens > 2)
            {
                Assert.Equal(new[] { "TooManyTokens", "M:{}" }, ReaderTests.Run(new JsonMessageReader(1 << 20, 64, tokens - 1), data));
            }
        }, iter: 500);
    }

    /// <summary>QEMU's token count of compact JSON, from the characters outside strings.</summary>
    private static int QemuTokens(string json)
    {
        int tokens = 0;
        char quote = '\0';
        bool inBare = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (quote != '\0')
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }

                continue;
            }

            bool bare = char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.';
            if (bare)
            {
                if (!inBare)
                {
                    tokens++;
                }
            }
            else if (c is '"' or '\'')
            {
                tokens++;
                quote = c;
            }
            else if (c is '{' or '}' or '[' or ']' or ':' or ',')
            {
                tokens++;
            }

            inBare = bare;
        }

        return tokens;
    }

    [Fact]
    public void Property_writer_then_reader_round_trips_any_value_over_any_split()
    {
        // What JsonMessageWriter writes, the reader frames back unchanged, whatever the chunking.
        Gen.Select(QObject.List[1, 6], Gen.Int[0, 2000].Array[0, 10], Gen.Bool).Sample((values, cuts, memory) =>
        {
            using var writer = new JsonMessageWriter();
            var stream = new List<byte>();
            var expected = new List<string>();
            foreach (string v in values)
            {
                using var doc = JsonDocument.Parse(v);
                ReadOnlyMemory<byte> written = writer.WriteValue(doc.RootElement);
                stream.AddRange(written.ToArray());
                string text = Encoding.ASCII.GetString(written.Span).TrimEnd('\n');
                Assert.All(written.ToArray(), b => Assert.True(b < 0x80, "writer output is ASCII"));
                expected.Add(text);
            }

            var framed = ReaderTests.Run(new JsonMessageReader(), stream.ToArray(), cuts, memory);
            // A bare top-level scalar only completes when a delimiter follows; the writer's '\n' is one.
            Assert.Equal(expected.Select(e => "M:" + e), framed);
            for (int i = 0; i < values.Count; i++)
            {
                using var original = JsonDocument.Parse(values[i]);
                using var back = JsonDocument.Parse(expected[i]);
                Assert.True(JsonElement.DeepEquals(original.RootElement, back.RootElement), values[i] + " vs " + expected[i]);
            }
        }, iter: 300);
    }

    [Fact]
    public void Property_garbage_never_yields_a_message_that_was_not_sent()
    {
        // Messages interleaved with garbage that contains no JSON opener: every message the
        // reader hands out is one that was sent, in order, and every one sent after a 0xFF
        // sync byte arrives.
        var noise = Gen.Byte.Where(b => b is not ((byte)'{' or (byte)'[' or (byte)'"' or (byte)'\'')).Array[0, 40];
        Gen.Select(QObject.Where(v => v.StartsWith('{')).List[1, 6], noise.List[6], Gen.Int[0, 3000].Array[0, 12]).Sample((messages, garbage, cuts) =>
        {
            var stream = new List<byte>();
            for (int i = 0; i < messages.Count; i++)
            {
                stream.AddRange(garbage[i]);
                stream.Add(0xFF);
                stream.AddRange(Encoding.UTF8.GetBytes(messages[i]));
            }

            var got = ReaderTests.Run(new JsonMessageReader(1 << 16, 32, 4096), stream.ToArray(), cuts)
                .Where(r => r.StartsWith("M:", StringComparison.Ordinal)).ToList();
            Assert.Equal(messages.Select(m => "M:" + m), got.Where(g => g.StartsWith("M:{", StringComparison.Ordinal)));
        }, iter: 500);
    }

    [Fact]
    public void Property_every_bound_holds_for_arbitrary_bytes_over_any_split()
    {
        // Whatever arrives: progress on every call, the same events for any split, and every
        // message within all three bounds.
        var bytes = Gen.Frequency(
            (3, Gen.Byte),
            (5, Pick("{}[]:,\"'\\ \n1a\xff".Select(c => (byte)c).ToArray())));
        Gen.Select(bytes.Array[0, 400], Gen.Int[0, 500].Array[0, 20], Gen.Int[2, 40], Gen.Int[1, 6]).Sample((data, cuts, maxTokens, maxDepth) =>
        {
            var whole = ReaderTests.Run(new JsonMessageReader(96, maxDepth, maxTokens), data);
            Assert.Equal(whole, ReaderTests.Run(new JsonMessageReader(96, maxDepth, maxTokens), data, cuts, memory: true));
            foreach (string r in whole.Where(r => r.StartsWith("M:", StringComparison.Ordinal)))
            {
                byte[] m = Encoding.UTF8.GetBytes(r.Substring(2));
                if (m[0] is (byte)'{' or (byte)'[')
                {
                    Assert.True(QemuTokens(Encoding.Latin1.GetString(m)) <= maxTokens || !IsPlainAscii(m), r);
                }
            }
        }, iter: 2000);
    }

    private static bool IsPlainAscii(byte[] m) => m.All(b => b is >= 0x20 and < 0x7F);
}
