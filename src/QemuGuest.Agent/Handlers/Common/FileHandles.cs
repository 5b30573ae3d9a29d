using System;
using System.Collections.Concurrent;
using System.Globalization;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Handlers.Common;

/// <summary>The access an fopen(3)-style mode string asks for.</summary>
public readonly record struct OpenMode(bool Read, bool Write, bool Create, bool Truncate, bool Append)
{
    /// <summary>qemu-ga's guest_file_open_modes table; null for an invalid mode.</summary>
    public static OpenMode? Parse(string mode, bool windows) => mode switch
    {
        "r" or "rb" => new OpenMode(true, false, false, false, false),
        "w" or "wb" => new OpenMode(false, true, true, true, false),
        "a" => new OpenMode(false, true, true, false, true),
        "ab" when !windows => new OpenMode(false, true, true, false, true),
        "r+" or "rb+" or "r+b" => new OpenMode(true, true, false, false, false),
        "w+" or "wb+" or "w+b" => new OpenMode(true, true, true, true, false),
        "a+" or "ab+" or "a+b" => new OpenMode(true, true, true, false, true),
        _ => null,
    };
}

/// <summary>One open guest file, the platform's way.</summary>
public interface IGuestFile : IDisposable
{
    /// <summary>Reads up to <paramref name="buffer"/>'s length; eof follows feof(3).</summary>
    (int Count, bool Eof) Read(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/>; returns bytes written.</summary>
    int Write(ReadOnlySpan<byte> data);

    long Seek(long offset, int whence);

    void Flush();
}

/// <summary>Opens files for the table.</summary>
public interface IGuestFileOpener
{
    bool IsWindows { get; }

    /// <summary>Throws <see cref="AgentCommandException"/> with the stock text on failure.</summary>
    IGuestFile Open(string path, string mode, OpenMode parsed);
}

/// <summary>
/// The guest-file-* handle table: handles come from the persistent counter (1000 upwards,
/// saved in STATEDIR/qga.state before use), are shared by all clients and outlive
/// connections, exactly as in qemu-ga.
/// </summary>
public sealed class FileHandleTable
{
    /// <summary>GUEST_FILE_READ_COUNT_MAX: 48 MiB.</summary>
    public const long MaxReadCount = 48L * 1024 * 1024;

    public const int DefaultReadCount = 4096;

    private readonly ConcurrentDictionary<long, IGuestFile> _files = new();
    private readonly PersistentState _state;
    private readonly IGuestFileOpener _opener;

    public FileHandleTable(PersistentState state, IGuestFileOpener opener)
    {
        _state = state;
        _opener = opener;
    }

    public int Count => _files.Count;

    public long Open(string path, string? mode)
    {
        mode ??= "r";
        OpenMode? parsed = OpenMode.Parse(mode, _opener.IsWindows);
        if (parsed is null)
        {
            throw new AgentCommandException("invalid file open mode '" + mode + "'");
        }

        IGuestFile file = _opener.Open(path, mode, parsed.Value);
        long handle;
        try
        {
            handle = _state.NextHandle();
        }
        catch
        {
            file.Dispose();
            throw;
        }

        _files[handle] = file;
        return handle;
    }

    public void Close(long handle)
    {
        if (!_files.TryRemove(handle, out IGuestFile? file))
        {
            throw NotFound(handle);
        }

        file.Dispose();
    }

    public GuestFileReadBytes Read(long handle, long? count)
    {
        IGuestFile file = Get(handle);
        long n = count ?? DefaultReadCount;
        if (n < 0 || n > MaxReadCount)
        {
            throw new AgentCommandException("value '" + n.ToString(CultureInfo.InvariantCulture) + "' is invalid for argument count");
        }

        QapiBytes data = QapiBytes.Rent((int)n, BoundedBufferPool.Shared);
        try
        {
            var (read, eof) = file.Read(data.Buffer.Slice(0, (int)n));
            data.Length = read;
            return new GuestFileReadBytes(read, data, eof);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }

    public GuestFileWrite Write(long handle, QapiBase64 bufB64, long? count)
    {
        IGuestFile file = Get(handle);
        byte[] buf = BoundedBufferPool.Shared.Rent(QemuBase64.MaxDecodedLength(bufB64.Length));
        try
        {
            int length = QemuBase64.Decode(bufB64.Utf8, buf);
            long n = count ?? length;
            if (n < 0 || n > length)
            {
                throw new AgentCommandException("value '" + n.ToString(CultureInfo.InvariantCulture) + "' is invalid for argument count");
            }

            int written = file.Write(buf.AsSpan(0, (int)n));
            return new GuestFileWrite(written, false);
        }
        finally
        {
            BoundedBufferPool.Shared.Return(buf);
        }
    }

    public GuestFileSeek Seek(long handle, long offset, GuestFileWhence whence)
    {
        IGuestFile file = Get(handle);
        int w = whence switch
        {
            GuestFileWhence.NameCase name => name.Value switch
            {
                QGASeek.Set => 0,
                QGASeek.Cur => 1,
                _ => 2,
            },
            GuestFileWhence.ValueCase v when v.Value is >= 0 and <= 2 => (int)v.Value,
            GuestFileWhence.ValueCase v => throw new AgentCommandException("invalid whence code " + v.Value.ToString(CultureInfo.InvariantCulture)),
            _ => throw new AgentCommandException("invalid whence code"),
        };
        long position = file.Seek(offset, w);
        return new GuestFileSeek(position, false);
    }

    public void Flush(long handle) => Get(handle).Flush();

    public IGuestFile Get(long handle) =>
        _files.TryGetValue(handle, out IGuestFile? file) ? file : throw NotFound(handle);

    private static AgentCommandException NotFound(long handle) =>
        new("handle '" + handle.ToString(CultureInfo.InvariantCulture) + "' has not been found");
}

/// <summary>
/// QEMU's qbase64_decode: NUL and characters outside the base64 alphabet (plus '=' and '\n')
/// are errors with QEMU's texts; the rest is GLib's g_base64_decode (see DecodeLeniently).
/// </summary>
public static class QemuBase64
{
    private static readonly System.Buffers.SearchValues<byte> AcceptedUtf8 =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n"u8);

    /// <summary>The most bytes <see cref="Decode(ReadOnlySpan{byte}, Span{byte})"/> can produce from this much text.</summary>
    public static int MaxDecodedLength(int textLength) => textLength / 4 * 3 + 3;

    /// <summary>
    /// The same rules and texts as <see cref="Decode(string)"/>, from the UTF-8 text straight into
    /// <paramref name="output"/> (at least <see cref="MaxDecodedLength"/> bytes): no string, no
    /// array per call. Returns the decoded length.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int bad = input.IndexOfAnyExcept(AcceptedUtf8);
        if (bad >= 0)
        {
            throw new AgentCommandException(input[bad] == 0
                ? "Base64 data contains embedded NUL characters"
                : "Base64 data contains invalid characters");
        }

        if (input.Length % 4 == 0 && input.IndexOf((byte)'\n') < 0
            && System.Buffers.Text.Base64.DecodeFromUtf8(input, output, out int consumed, out int written) == System.Buffers.OperationStatus.Done
            && consumed == input.Length)
        {
            return written;
        }

        return DecodeLeniently(input, output);
    }

    /// <summary>
    /// GLib's g_base64_decode_step, which qemu-ga runs on every buf-b64: '\n' is skipped, '=' counts
    /// as a digit of value 0 wherever it stands, and bytes come out only per complete group of
    /// four — the first always, the second unless the group's third character is '=', the third
    /// unless its fourth is. So an unpadded tail ("YWJjZA") is dropped (3 bytes, not 4), "YQ==YQ=="
    /// is two groups ("aa") and "====" is one zero byte: what stock writes for the same request.
    /// </summary>
    private static int DecodeLeniently(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int n = 0;
        int inGroup = 0;
        uint value = 0;
        byte last = 0;
        byte beforeLast = 0;
        foreach (byte c in input)
        {
            int digit = c switch
            {
                >= (byte)'A' and <= (byte)'Z' => c - 'A',
                >= (byte)'a' and <= (byte)'z' => c - 'a' + 26,
                >= (byte)'0' and <= (byte)'9' => c - '0' + 52,
                (byte)'+' => 62,
                (byte)'/' => 63,
                (byte)'=' => 0,
                _ => -1,
            };
            if (digit < 0)
            {
                continue;
            }

            beforeLast = last;
            last = c;
            value = (value << 6) | (uint)digit;
            if (++inGroup == 4)
            {
                output[n++] = (byte)(value >> 16);
                if (beforeLast != (byte)'=')
                {
                    output[n++] = (byte)(value >> 8);
                }

                if (last != (byte)'=')
                {
                    output[n++] = (byte)value;
                }

                inGroup = 0;
            }
        }

        return n;
    }

    /// <summary>The string form of <see cref="Decode(ReadOnlySpan{byte}, Span{byte})"/>: the same checks, texts and decoding.</summary>
    public static byte[] Decode(string input)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(input);
        var output = new byte[MaxDecodedLength(text.Length)];
        int n = Decode(text, output);
        Array.Resize(ref output, n);
        return output;
    }

    /// <summary>The string form of <see cref="DecodeLeniently(ReadOnlySpan{byte}, Span{byte})"/> (input already checked to be ASCII).</summary>
    internal static byte[] DecodeLeniently(string input)
    {
        byte[] text = System.Text.Encoding.ASCII.GetBytes(input);
        var output = new byte[MaxDecodedLength(text.Length)];
        int n = DecodeLeniently(text, output);
        Array.Resize(ref output, n);
        return output;
    }
}
