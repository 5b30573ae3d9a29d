using System;
using System.Buffers;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The bulk data path of file transfers: guest-file-write and guest-file-read with the bytes
/// in caller-owned buffers. Writes encode base64 straight into the request's pooled JSON buffer
/// (no intermediate string); reads decode the reply's base64 text straight into the caller's
/// buffer. Only plain .NET types cross this API, so the cmdlets never touch System.Text.Json.
/// </summary>
public static class GuestFileIO
{
    /// <summary>The stock agent's largest guest-file-read count (48 MiB).</summary>
    public const int StockMaxReadCount = 48 * 1024 * 1024;

    /// <summary>The stock agent's message cap (64 MiB of JSON, requests included).</summary>
    public const int StockMaxMessageBytes = 64 * 1024 * 1024;

    /// <summary>libvirt refuses agent replies above 10 MiB: the largest read count that fits (7.5 MiB minus JSON overhead).</summary>
    public const int LibvirtSafeReadCount = 7 * 1024 * 1024;

    /// <summary>
    /// Writes <paramref name="data"/> at the handle's position; returns the count the agent
    /// reports written. The memory must stay untouched until the returned task completes.
    /// </summary>
    public static async Task<long> WriteAsync(IGuestAgentChannel channel, long handle, ReadOnlyMemory<byte> data, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        JsonElement reply = await channel.ExecuteAsync("guest-file-write", new WriteArguments(handle, data), options, cancellationToken).ConfigureAwait(false);
        return reply.ValueKind == JsonValueKind.Object && reply.TryGetProperty("count", out JsonElement count) && count.TryGetInt64(out long n)
            ? n
            : throw new QgaProtocolException("guest-file-write", "guest-file-write replied without a numeric count.");
    }

    /// <summary>
    /// Reads up to <c>destination.Length</c> bytes at the handle's position into
    /// <paramref name="destination"/>; returns the count read and the agent's eof flag.
    /// </summary>
    public static async Task<GuestReadResult> ReadAsync(IGuestAgentChannel channel, long handle, Memory<byte> destination, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        var arguments = new ReadArguments(handle, destination.Length);
        if (channel is IGuestAgentInPlaceChannel inPlace)
        {
            // Decoded from the receive buffer: no clone of the reply's base64 text.
            return await inPlace.ExecuteAsync("guest-file-read", arguments, reply => ReadReply(reply, destination.Span), options, cancellationToken).ConfigureAwait(false);
        }

        JsonElement copy = await channel.ExecuteAsync("guest-file-read", arguments, options, cancellationToken).ConfigureAwait(false);
        return ReadReply(copy, destination.Span);
    }

    private static GuestReadResult ReadReply(JsonElement reply, Span<byte> destination)
    {
        if (reply.ValueKind != JsonValueKind.Object
            || !reply.TryGetProperty("count", out JsonElement countElement) || !countElement.TryGetInt64(out long count)
            || !reply.TryGetProperty("buf-b64", out JsonElement buf) || buf.ValueKind != JsonValueKind.String)
        {
            throw new QgaProtocolException("guest-file-read", "guest-file-read replied without count and buf-b64.");
        }

        bool eof = reply.TryGetProperty("eof", out JsonElement eofElement) && eofElement.ValueKind == JsonValueKind.True;
        int decoded = Decode(buf, destination);
        if (decoded != count)
        {
            throw new QgaProtocolException("guest-file-read", $"guest-file-read reported count {count} but sent {decoded} bytes.");
        }

        return new GuestReadResult(decoded, eof);
    }

    private static int Decode(JsonElement text, Span<byte> destination)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(text);
        if (raw.Length >= 2 && raw[0] == (byte)'"' && raw[raw.Length - 1] == (byte)'"' && raw.IndexOf((byte)'\\') < 0)
        {
            raw = raw.Slice(1, raw.Length - 2);
            OperationStatus status = Base64.DecodeFromUtf8(raw, destination, out _, out int written);
            if (status == OperationStatus.Done)
            {
                return written;
            }

            if (status == OperationStatus.DestinationTooSmall)
            {
                throw new QgaProtocolException("guest-file-read", "guest-file-read sent more bytes than were asked for.");
            }
        }

        // Escaped or line-wrapped base64 (glib wraps nothing, but be lenient): the slow path.
        byte[] bytes;
        try
        {
            bytes = text.GetBytesFromBase64();
        }
        catch (FormatException ex)
        {
            throw new QgaProtocolException("guest-file-read", "guest-file-read sent invalid base64: " + ex.Message, ex);
        }

        if (bytes.Length > destination.Length)
        {
            throw new QgaProtocolException("guest-file-read", "guest-file-read sent more bytes than were asked for.");
        }

        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private sealed class WriteArguments : IQgaArguments
    {
        private readonly long _handle;
        private readonly ReadOnlyMemory<byte> _data;

        public WriteArguments(long handle, ReadOnlyMemory<byte> data)
        {
            _handle = handle;
            _data = data;
        }

        public void WriteMembers(Utf8JsonWriter writer)
        {
            writer.WriteNumber("handle", _handle);
            // Encoded by the writer straight into its pooled output buffer, which is what goes
            // to the socket: no base64 string is ever materialised.
            writer.WriteBase64String("buf-b64", _data.Span);
            writer.WriteNumber("count", _data.Length);
        }
    }

    private sealed class ReadArguments : IQgaArguments
    {
        private readonly long _handle;
        private readonly int _count;

        public ReadArguments(long handle, int count)
        {
            _handle = handle;
            _count = count;
        }

        public void WriteMembers(Utf8JsonWriter writer)
        {
            writer.WriteNumber("handle", _handle);
            writer.WriteNumber("count", _count);
        }
    }
}

/// <summary>One guest-file-read: bytes decoded into the caller's buffer, and the agent's eof flag.</summary>
public readonly struct GuestReadResult
{
    public GuestReadResult(int count, bool eof)
    {
        Count = count;
        Eof = eof;
    }

    public int Count { get; }

    public bool Eof { get; }
}
