using System;
using System.Globalization;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// The agent's side of the binary bulk mode, run by the service loop between two JSON
/// messages: a read sends the file's bytes as frames, a write takes the client's frames
/// (the shared <see cref="BulkFrameReader"/>: bounded, every frame checked) into the file.
/// Either way the transfer ends with the end frame and a completion reply (or an error reply
/// with the request's id), and the loop is back to JSON. After a broken frame the rest of the
/// client's bytes are discarded up to its next 0xFF (the sync delimiter, never part of a frame
/// header), so no payload is ever taken for requests; silence ends any state after
/// <see cref="BulkSlot.IdleTimeout"/>.
/// </summary>
internal sealed class AgentBulk : IDisposable
{
    private readonly BulkFrameReader _frames = new(BulkFrame.MaxPayloadBytes);
    private BulkTransfer? _write;
    private bool _draining;
    private byte[]? _buffer;
    private byte[]? _spare;

    /// <summary>Frames (or a broken frame's leftovers) are expected: reads are bounded by the idle timeout.</summary>
    public bool Active => _write is not null || _draining;

    /// <summary>A read buffer large enough for a whole frame per read while frames come in.</summary>
    public byte[] ReadBuffer => _buffer ??= BoundedBufferPool.Shared.Rent(BulkFrame.HeaderBytes + BulkFrame.MaxPayloadBytes);

    public void Begin(BulkTransfer transfer)
    {
        _frames.Reset();
        _draining = false;
        _write = transfer;
    }

    /// <summary>
    /// Takes what it can of <paramref name="input"/>; returns the bytes consumed. When the
    /// transfer ended, <paramref name="reply"/> is its completion (the rest of the input is JSON,
    /// or leftovers of a broken frame being discarded).
    /// </summary>
    public int Feed(ReadOnlySpan<byte> input, JsonMessageWriter writer, out ReadOnlyMemory<byte> reply)
    {
        reply = ReadOnlyMemory<byte>.Empty;
        if (_write is null)
        {
            int delimiter = input.IndexOf(JsonMessageWriter.Delimiter);
            if (delimiter < 0)
            {
                return input.Length;
            }

            _draining = false;
            return delimiter;
        }

        BulkTransfer t = _write;
        int used = 0;
        while (used < input.Length)
        {
            BulkFrameKind kind = _frames.Read(input.Slice(used), out int n);
            used += n;
            switch (kind)
            {
                case BulkFrameKind.None:
                    break;
                case BulkFrameKind.Data:
                    Store(t, _frames.Payload.Span);
                    continue;
                case BulkFrameKind.End:
                    if (t.Failure is null && t.Done != t.Count)
                    {
                        t.Failure = Fmt("the client ended the transfer after {0} of the {1} bytes it announced", t.Done, t.Count);
                    }

                    reply = End(writer, eof: false);
                    return used;
                case BulkFrameKind.NotAFrame:
                    t.Failure ??= Fmt("byte 0x{0:X2} where frame {1} belongs; transfer abandoned after {2} bytes", input[used], _frames.Frames, t.Done);
                    reply = End(writer, eof: false);
                    return used;
                default:
                    t.Failure ??= "bad frame: " + _frames.Error + Fmt("; transfer abandoned after {0} bytes", t.Done);
                    reply = End(writer, eof: false);
                    _draining = true;
                    return used;
            }
        }

        return used;
    }

    /// <summary>The client stayed silent for <see cref="BulkSlot.IdleTimeout"/>: the transfer (if any) fails, the loop is back to JSON.</summary>
    public ReadOnlyMemory<byte> TimedOut(JsonMessageWriter writer)
    {
        _draining = false;
        if (_write is not { } t)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        t.Failure ??= Fmt("no frame for {0} s after {1} of {2} bytes; transfer abandoned", BulkSlot.IdleTimeout.TotalSeconds, t.Done, t.Count);
        return End(writer, eof: false);
    }

    /// <summary>
    /// Sends the file's bytes as frames, then the end frame and the completion reply. Socket
    /// errors propagate. The next frame is read from the file on a pool thread while the
    /// channel takes the previous one: the channel's write may block (virtio-serial, a full
    /// socket buffer), and one after the other the disk and the channel each sat idle half the
    /// time (bench/RESULTS.md, issue 19 stage 5).
    /// </summary>
    public async ValueTask SendAsync(Stream stream, BulkTransfer t, JsonMessageWriter writer, CancellationToken cancellationToken)
    {
        byte[] buffer = ReadBuffer;
        byte[] spare = _spare ??= BoundedBufferPool.Shared.Rent(BulkFrame.HeaderBytes + BulkFrame.MaxPayloadBytes);
        uint sequence = 0;
        (int n, bool eof, string? failure) = ReadFrame(t, buffer, t.Count);
        Task<(int, bool, string?)>? next = null;
        try
        {
            while (n > 0)
            {
                BulkFrame.WriteHeader(buffer, n, sequence++);
                long left = t.Count - t.Done - n;
                if (!eof && left > 0)
                {
                    byte[] into = spare;
                    next = Task.Run(() => ReadFrame(t, into, left), cancellationToken);
                }

                await stream.WriteAsync(buffer.AsMemory(0, BulkFrame.HeaderBytes + n), cancellationToken).ConfigureAwait(false);
                t.Done += n;
                if (next is null)
                {
                    break;
                }

                (n, eof, failure) = await next.ConfigureAwait(false);
                next = null;
                (buffer, spare) = (spare, buffer);
            }
        }
        finally
        {
            if (next is not null)
            {
                // A read into the spare buffer must end before the buffer can go back to the pool.
                await ((Task)next).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        t.Failure ??= failure;
        BulkFrame.WriteHeader(buffer, ReadOnlySpan<byte>.Empty, sequence);
        await stream.WriteAsync(buffer.AsMemory(0, BulkFrame.HeaderBytes), cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(Complete(writer, t, eof), cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        Release();
    }

    /// <summary>One frame's payload from the file (at most <paramref name="left"/> bytes): count, end of file, or why the file failed.</summary>
    private static (int Count, bool Eof, string? Failure) ReadFrame(BulkTransfer t, byte[] into, long left)
    {
        if (left <= 0)
        {
            return (0, false, null);
        }

        int want = (int)Math.Min(BulkFrame.MaxPayloadBytes, left);
        try
        {
            (int n, bool eof) = t.File.Read(into.AsSpan(BulkFrame.HeaderBytes, want));
            return (n, eof || n == 0, null);
        }
        catch (Exception ex) when (ex is AgentCommandException or IOException or UnauthorizedAccessException)
        {
            return (0, false, ex.Message);
        }
    }

    /// <summary>Drops the frame-sized buffers once no transfer runs (the agent's idle footprint stays small).</summary>
    public void Release()
    {
        if (Active)
        {
            return;
        }

        if (_buffer is { } b)
        {
            _buffer = null;
            BoundedBufferPool.Shared.Return(b);
        }

        if (_spare is { } s)
        {
            _spare = null;
            BoundedBufferPool.Shared.Return(s);
        }

        _frames.Dispose();
    }

    public void Dispose()
    {
        _write = null;
        _draining = false;
        Release();
    }

    private static void Store(BulkTransfer t, ReadOnlySpan<byte> payload)
    {
        if (t.Failure is not null)
        {
            return;
        }

        if (payload.Length > t.Count - t.Done)
        {
            t.Failure = Fmt("the client sent more than the {0} bytes it announced", t.Count);
            return;
        }

        try
        {
            t.Done += t.File.Write(payload);
        }
        catch (Exception ex) when (ex is AgentCommandException or IOException or UnauthorizedAccessException)
        {
            t.Failure = ex.Message;
        }
    }

    private ReadOnlyMemory<byte> End(JsonMessageWriter writer, bool eof)
    {
        BulkTransfer t = _write!;
        _write = null;
        return Complete(writer, t, eof);
    }

    private static ReadOnlyMemory<byte> Complete(JsonMessageWriter writer, BulkTransfer t, bool eof)
    {
        if (t.Failure is { } failure)
        {
            return writer.WriteError("GenericError", Fmt("bulk transfer on handle {0} failed: ", t.Handle) + failure, t.Id);
        }

        Utf8JsonWriter json = writer.BeginReturn();
        new Protocol.Qga.GuestFileBulkDone(t.Done, eof).WriteJson(json);
        return writer.EndReturn(t.Id);
    }

    private static string Fmt(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
}
