using System;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The bulk data path of guest-exec-status, beside <see cref="GuestFileIO"/>: a process's
/// out-data / err-data decoded from the reply's base64 text straight into one byte array per
/// stream, at most <c>maxOutputBytes</c> each. Through the generated record the output lived
/// as base64 UTF-16 (2.7× its size) before being decoded (1×) and turned into text (2×), on
/// top of the reply itself: ~8× the output in host memory, for as much as a guest cared to send.
/// </summary>
public static class GuestExecIO
{
    /// <summary>The stock agent's own cap per stream (16 MiB); more from a guest is cut and flagged truncated.</summary>
    public const int MaxOutputBytes = 16 * 1024 * 1024;

    /// <summary>One guest-exec-status poll, output decoded once and bounded.</summary>
    public static async Task<GuestExecResult> StatusAsync(IGuestAgentChannel channel, long pid, int maxOutputBytes, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        if (maxOutputBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxOutputBytes));
        }

        JsonElement reply = await channel.ExecuteAsync("guest-exec-status", new StatusArguments(pid), options, cancellationToken).ConfigureAwait(false);
        if (reply.ValueKind != JsonValueKind.Object
            || !reply.TryGetProperty("exited", out JsonElement exited) || exited.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new QgaProtocolException("guest-exec-status", "guest-exec-status replied without a boolean 'exited'.");
        }

        var result = new GuestExecResult
        {
            Exited = exited.ValueKind == JsonValueKind.True,
            ExitCode = OptionalInt64(reply, "exitcode"),
            Signal = OptionalInt64(reply, "signal"),
        };
        (result.StdOut, bool outCut) = OptionalBase64(reply, "out-data", maxOutputBytes);
        (result.StdErr, bool errCut) = OptionalBase64(reply, "err-data", maxOutputBytes);
        result.StdOutTruncated = outCut || OptionalBool(reply, "out-truncated");
        result.StdErrTruncated = errCut || OptionalBool(reply, "err-truncated");
        return result;
    }

    private static long? OptionalInt64(JsonElement reply, string name)
    {
        if (!reply.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v)
            ? v
            : throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not an integer.");
    }

    private static bool OptionalBool(JsonElement reply, string name)
    {
        if (!reply.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not a boolean."),
        };
    }

    private static (byte[] Bytes, bool Truncated) OptionalBase64(JsonElement reply, string name, int max)
    {
        if (!reply.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return (Array.Empty<byte>(), false);
        }

        if (e.ValueKind != JsonValueKind.String)
        {
            throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not a string.");
        }

        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(e);
        if (raw.Length >= 2 && raw[0] == (byte)'"' && raw[raw.Length - 1] == (byte)'"' && raw.IndexOf((byte)'\\') < 0)
        {
            return DecodeBounded(raw.Slice(1, raw.Length - 2), name, max);
        }

        // Escaped base64 (no agent sends it; be lenient): decode whole, it is bounded by the reply.
        byte[] all;
        try
        {
            all = e.GetBytesFromBase64();
        }
        catch (FormatException ex)
        {
            throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not base64: {ex.Message}", ex);
        }

        if (all.Length <= max)
        {
            return (all, false);
        }

        var cut = new byte[max];
        Array.Copy(all, cut, max);
        return (cut, true);
    }

    private static (byte[] Bytes, bool Truncated) DecodeBounded(ReadOnlySpan<byte> text, string name, int max)
    {
        if (text.Length % 4 != 0)
        {
            throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not base64 (length {text.Length}).");
        }

        int padding = text.Length == 0 ? 0 : text[text.Length - 1] != (byte)'=' ? 0 : text[text.Length - 2] == (byte)'=' ? 2 : 1;
        long full = (long)text.Length / 4 * 3 - padding;
        bool truncated = full > max;
        int keep = (int)Math.Min(full, max);
        var bytes = new byte[keep];
        if (!truncated)
        {
            if (Base64.DecodeFromUtf8(text, bytes, out _, out int all) != System.Buffers.OperationStatus.Done || all != keep)
            {
                throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not base64.");
            }

            return (bytes, false);
        }

        // Cut at the bound: whole quanta straight into the result, the one quantum the bound
        // splits through a 3-byte scratch. Text beyond the bound is never decoded.
        int quanta = keep / 3;
        if (Base64.DecodeFromUtf8(text.Slice(0, quanta * 4), bytes, out _, out int written) != System.Buffers.OperationStatus.Done || written != quanta * 3)
        {
            throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not base64.");
        }

        int rest = keep - (quanta * 3);
        if (rest > 0)
        {
            Span<byte> scratch = stackalloc byte[3];
            if (Base64.DecodeFromUtf8(text.Slice(quanta * 4, 4), scratch, out _, out int n) != System.Buffers.OperationStatus.Done || n < rest)
            {
                throw new QgaProtocolException("guest-exec-status", $"guest-exec-status: '{name}' is not base64.");
            }

            scratch.Slice(0, rest).CopyTo(bytes.AsSpan(quanta * 3));
        }

        return (bytes, truncated);
    }

    private sealed class StatusArguments : IQgaArguments
    {
        private readonly long _pid;

        public StatusArguments(long pid) => _pid = pid;

        public void WriteMembers(Utf8JsonWriter writer) => writer.WriteNumber("pid", _pid);
    }
}

/// <summary>One guest-exec-status answer: exit (or signal) and the output bytes, each stream bounded.</summary>
public sealed class GuestExecResult
{
    public bool Exited { get; set; }

    public long? ExitCode { get; set; }

    public long? Signal { get; set; }

    public byte[] StdOut { get; set; } = Array.Empty<byte>();

    public byte[] StdErr { get; set; } = Array.Empty<byte>();

    /// <summary>The agent kept only part of the output, or it was over the bound and was cut here.</summary>
    public bool StdOutTruncated { get; set; }

    public bool StdErrTruncated { get; set; }
}
