using System;
using System.Collections.Generic;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Fuzz;

/// <summary>
/// The one framing reader. Input: 3 bytes of configuration (chunking seed, depth bound, token
/// bound), then the stream. Invariants: progress on every call; the same events for the whole
/// stream, for an arbitrary chunking and for the memory overload; every message within the
/// bounds and starting with a byte that can start a value.
/// </summary>
public sealed class ReaderTarget : IFuzzTarget
{
    private const int MaxBytes = 256;

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 3)
        {
            return;
        }

        int seed = input[0];
        int maxDepth = 1 + (input[1] % 16);
        int maxTokens = 2 + (input[2] % 64);
        byte[] data = input.Slice(3).ToArray();

        var whole = Frame(data, maxDepth, maxTokens, new[] { data.Length }, memory: false);
        var rng = new Random(seed);
        var cuts = new List<int>();
        for (int at = 0; at < data.Length;)
        {
            int step = 1 + rng.Next(seed % 7 == 0 ? 4 : 64);
            at = Math.Min(data.Length, at + step);
            cuts.Add(at);
        }

        var chunked = Frame(data, maxDepth, maxTokens, cuts, memory: (seed & 1) == 1);
        if (whole.Count != chunked.Count)
        {
            throw new InvariantViolation($"{whole.Count} events for the whole stream, {chunked.Count} chunked");
        }

        for (int i = 0; i < whole.Count; i++)
        {
            if (whole[i] != chunked[i])
            {
                throw new InvariantViolation($"event {i}: '{whole[i]}' whole, '{chunked[i]}' chunked");
            }
        }
    }

    private static List<string> Frame(byte[] data, int maxDepth, int maxTokens, IEnumerable<int> ends, bool memory)
    {
        var events = new List<string>();
        using var reader = new JsonMessageReader(MaxBytes, maxDepth, maxTokens);
        int start = 0;
        foreach (int end in ends)
        {
            var chunk = new ReadOnlyMemory<byte>(data, start, end - start);
            while (!chunk.IsEmpty)
            {
                JsonFrame frame = memory ? reader.Read(chunk, out int used) : reader.Read(chunk.Span, out used);
                if (used <= 0 && frame.Kind == JsonFrameKind.None)
                {
                    throw new InvariantViolation("no progress: nothing consumed and no event");
                }

                if (used > chunk.Length || used < 0)
                {
                    throw new InvariantViolation($"consumed {used} of a {chunk.Length}-byte chunk");
                }

                chunk = chunk.Slice(used);
                if (frame.Kind == JsonFrameKind.Message)
                {
                    Check(frame.Message.Span, maxDepth);
                    events.Add("M:" + Convert.ToHexString(frame.Message.Span));
                }
                else if (frame.Kind != JsonFrameKind.None)
                {
                    events.Add(frame.ToString());
                }
            }

            start = end;
        }

        return events;
    }

    private static void Check(ReadOnlySpan<byte> message, int maxDepth)
    {
        if (message.IsEmpty || message.Length > MaxBytes)
        {
            throw new InvariantViolation($"message of {message.Length} bytes (bound {MaxBytes})");
        }

        byte first = message[0];
        bool container = first is (byte)'{' or (byte)'[';
        if (!container && message.Length > JsonMessageReader.MaxTopLevelScalarBytes)
        {
            throw new InvariantViolation($"top-level scalar of {message.Length} bytes");
        }

        if (first is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or (byte)'}' or (byte)']' or (byte)':' or (byte)',' or 0xFF or 0xFE)
        {
            throw new InvariantViolation($"message starts with 0x{first:X2}");
        }

        // Depth outside strings never exceeds the bound.
        int depth = 0;
        byte quote = 0;
        for (int i = 0; i < message.Length; i++)
        {
            byte b = message[i];
            if (quote != 0)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == quote)
                {
                    quote = 0;
                }
            }
            else if (b is (byte)'"' or (byte)'\'')
            {
                quote = b;
            }
            else if (b is (byte)'{' or (byte)'[' && ++depth > maxDepth)
            {
                throw new InvariantViolation($"message nests deeper than {maxDepth}");
            }
            else if (b is (byte)'}' or (byte)']')
            {
                depth--;
            }
        }

        if (container && depth != 0)
        {
            throw new InvariantViolation($"message ends at depth {depth}");
        }
    }
}
