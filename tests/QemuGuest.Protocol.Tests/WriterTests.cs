using System;
using System.Linq;
using System.Text;
using System.Text.Json;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

public class WriterTests
{
    private sealed class Args : IQgaArguments
    {
        private readonly string _value;

        public Args(string value) => _value = value;

        public void WriteMembers(Utf8JsonWriter writer) => writer.WriteString("path", _value);
    }

    private static void AssertAscii(ReadOnlyMemory<byte> bytes)
    {
        foreach (byte b in bytes.Span)
        {
            Assert.True(b is >= 0x20 and < 0x7F or (byte)'\n', $"byte 0x{b:X2} is not printable ASCII");
        }
    }

    [Fact]
    public void Request_is_compact_ascii_and_newline_terminated()
    {
        using var writer = new JsonMessageWriter();
        ReadOnlyMemory<byte> bytes = writer.WriteRequest("guest-file-open", new Args("/tmp/é😀<>&+'\"\\\n"), 7);
        string text = Encoding.ASCII.GetString(bytes.Span);
        Assert.Equal("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/tmp/\\u00E9\\uD83D\\uDE00<>&+'\\\"\\\\\\n\"},\"id\":7}\n", text);
    }

    [Fact]
    public void Sync_request_starts_with_0xFF()
    {
        using var writer = new JsonMessageWriter();
        ReadOnlyMemory<byte> bytes = writer.WriteRequest("guest-sync-delimited", null, null, leadingDelimiter: true);
        Assert.Equal(0xFF, bytes.Span[0]);
        Assert.Equal("{\"execute\":\"guest-sync-delimited\"}\n", Encoding.ASCII.GetString(bytes.Span.Slice(1)));
    }

    [Fact]
    public void Replies_for_the_agent()
    {
        using var writer = new JsonMessageWriter();
        using var id = JsonDocument.Parse("{\"a\": [1, \"é\"]}");
        Assert.Equal("{\"return\":{},\"id\":{\"a\":[1,\"\\u00E9\"]}}\n", Encoding.ASCII.GetString(writer.WriteReturn(w => { w.WriteStartObject(); w.WriteEndObject(); }, id.RootElement).Span));
        Assert.Equal("{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command guest-nope has not been found\"}}\n", Encoding.ASCII.GetString(writer.WriteError("CommandNotFound", "The command guest-nope has not been found", null).Span));
    }

    [Fact]
    public void Large_base64_payload()
    {
        var payload = new byte[48 * 1024 * 1024];
        new Random(2).NextBytes(payload);
        using var writer = new JsonMessageWriter();
        Utf8JsonWriter w = writer.BeginMessage();
        w.WriteStartObject();
        w.WriteBase64String("buf-b64", payload);
        w.WriteEndObject();
        ReadOnlyMemory<byte> bytes = writer.EndMessage();
        Assert.Equal((byte)'\n', bytes.Span[^1]);
        Assert.Equal(12 + ((payload.Length + 2) / 3 * 4) + 2 + 1, bytes.Length);
        using var doc = JsonDocument.Parse(bytes);
        Assert.True(doc.RootElement.GetProperty("buf-b64").GetBytesFromBase64().AsSpan().SequenceEqual(payload));
    }

    [Fact]
    public void Property_round_trip_of_any_string_is_ascii_and_exact()
    {
        Gen.String.Select(Gen.Char.Array[0, 20], Gen.Int[0x10000, 0x10FFFF].Array[0, 5], (s, chars, astral) =>
            s + new string(chars.Where(c => !char.IsSurrogate(c)).ToArray()) + string.Concat(astral.Select(char.ConvertFromUtf32)))
            .Sample(s =>
            {
                using var writer = new JsonMessageWriter();
                ReadOnlyMemory<byte> bytes = writer.WriteRequest(s, new Args(s), 1);
                AssertAscii(bytes);
                Assert.Equal((byte)'\n', bytes.Span[^1]);
                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(bytes.ToArray()); // the writer reuses its buffer
                }
                catch (JsonException e)
                {
                    throw new InvalidOperationException(Encoding.ASCII.GetString(bytes.Span) + " from " + string.Join(",", s.Select(c => ((int)c).ToString("X4"))), e);
                }

                using var _ = doc;
                Assert.Equal(s, doc.RootElement.GetProperty("execute").GetString());
                Assert.Equal(s, doc.RootElement.GetProperty("arguments").GetProperty("path").GetString());

                // Re-writing a parsed element (the raw API, the relay) stays ASCII too.
                ReadOnlyMemory<byte> again = writer.WriteValue(doc.RootElement);
                AssertAscii(again);
            }, iter: 2000);
    }

    [Fact]
    public void Reader_reads_what_the_writer_wrote()
    {
        using var writer = new JsonMessageWriter();
        var all = new System.Collections.Generic.List<byte>();
        for (int i = 0; i < 50; i++)
        {
            all.AddRange(writer.WriteRequest("guest-ping", new Args(new string('é', i)), i).ToArray());
        }

        var results = ReaderTests.Run(new JsonMessageReader(), all.ToArray(), Enumerable.Range(1, 300).Select(i => i * 17));
        Assert.Equal(50, results.Count);
        Assert.All(results, r => Assert.StartsWith("M:{\"execute\":\"guest-ping\"", r));
    }

    [Fact]
    public void A_large_message_buffer_is_not_given_to_the_shared_pool()
    {
        // The shared pool keeps what it is given (per thread, then per core): a 4 MiB buffer
        // returned to it by one large reply would stay in the agent for good. Renting the same
        // size on the same thread right after hands back the very array if it was returned.
        using var writer = new JsonMessageWriter();
        ReadOnlyMemory<byte> large = writer.WriteRequest("guest-ping", new Args(new string('a', 3 << 20)), 1);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(large, out ArraySegment<byte> segment));
        writer.ReleaseLargeBuffer();
        byte[] rented = System.Buffers.ArrayPool<byte>.Shared.Rent(segment.Array!.Length);
        try
        {
            Assert.NotSame(segment.Array, rented);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }

        // A small message after it still works with a small buffer.
        Assert.StartsWith("{\"execute\":\"guest-ping\"", Encoding.ASCII.GetString(writer.WriteRequest("guest-ping", null, 2).Span));
    }
}
