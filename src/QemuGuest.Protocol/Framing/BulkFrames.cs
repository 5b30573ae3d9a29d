using System;
using System.Buffers.Binary;
using System.Globalization;
using QemuGuest.Protocol.Marshalling;
#if !NET
using Expr = System.Linq.Expressions.Expression;
#endif

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The binary bulk mode's frame (docs/copy.md, "Binary bulk mode"): magic 0xB7, payload length,
/// sequence number from 0, CRC32C of the payload (little-endian u32 each), payload. A frame of
/// length 0 ends a transfer. 0xB7 is neither 0xFF (the sync delimiter) nor anything that starts
/// JSON, so at a frame boundary the two can never be confused.
/// </summary>
public static class BulkFrame
{
    public const byte Magic = 0xB7;

    public const int HeaderBytes = 13;

    /// <summary>The largest payload our parts send and accept: large enough that a frame costs one system call per MiB.</summary>
    public const int MaxPayloadBytes = 1024 * 1024;

    /// <summary>Whitespace tolerated between a JSON reply and the first frame (the reply's line end), and between frames.</summary>
    public const int MaxGapBytes = 16;

    /// <summary>Writes the header of a frame carrying <paramref name="payload"/> into <paramref name="header"/>.</summary>
    public static void WriteHeader(Span<byte> header, ReadOnlySpan<byte> payload, uint sequence) =>
        WriteHeader(header, payload.Length, sequence, Crc32C.Compute(payload));

    /// <summary>
    /// Writes the header of the frame in <paramref name="frame"/>: its payload of
    /// <paramref name="payloadLength"/> bytes follows the header in the same array.
    /// </summary>
    public static void WriteHeader(byte[] frame, int payloadLength, uint sequence) =>
        WriteHeader(frame, payloadLength, sequence, Crc32C.Compute(frame, HeaderBytes, payloadLength));

    /// <summary>Writes a header whose payload's checksum is known (a frame checked on its way in is not checksummed again on its way out).</summary>
    public static void WriteHeader(Span<byte> header, int payloadLength, uint sequence, uint crc)
    {
        header[0] = Magic;
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(1), (uint)payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(5), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(9), crc);
    }
}

/// <summary>What one call to <see cref="BulkFrameReader.Read"/> produced.</summary>
public enum BulkFrameKind : byte
{
    /// <summary>All input consumed, no frame completed yet: feed more.</summary>
    None = 0,

    /// <summary>A checked frame; its payload is in <see cref="BulkFrameReader.Payload"/> until the next call.</summary>
    Data,

    /// <summary>The end frame (length 0): the transfer is over, the input after it is JSON again.</summary>
    End,

    /// <summary>The byte at a frame boundary is not the magic (JSON, 0xFF): frame mode is over, nothing consumed.</summary>
    NotAFrame,

    /// <summary>A frame broke a rule (<see cref="BulkFrameReader.Error"/> names it); the transfer is over.</summary>
    Error,
}

/// <summary>
/// The one reader of bulk frames (agent, client and relay): incremental, bounded by the
/// negotiated payload size (one pooled buffer of that size at most), every frame checked
/// (magic, length bound, sequence in order, CRC32C) before its payload is handed out. A frame
/// is only ever handed out whole and checked: what arrives unchecked is never passed on.
/// </summary>
public sealed class BulkFrameReader : IDisposable
{
    private readonly byte[] _header = new byte[BulkFrame.HeaderBytes];
    private readonly int _maxPayload;
    private readonly BoundedBufferPool _pool;
    private byte[]? _payload;
    private int _headerHave;
    private int _payloadLength;
    private int _payloadHave;
    private uint _expectedCrc;
    private uint _nextSequence;
    private int _gap;

    public BulkFrameReader(int maxPayloadBytes, BoundedBufferPool? pool = null)
    {
        if (maxPayloadBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPayloadBytes));
        }

        _maxPayload = maxPayloadBytes;
        _pool = pool ?? BoundedBufferPool.Shared;
    }

    /// <summary>The checked payload of the last <see cref="BulkFrameKind.Data"/> frame.</summary>
    public ReadOnlyMemory<byte> Payload { get; private set; }

    /// <summary>Why the last <see cref="BulkFrameKind.Error"/> happened, naming the offending value.</summary>
    public string? Error { get; private set; }

    /// <summary>Frames accepted so far in this transfer (the end frame not counted).</summary>
    public uint Frames => _nextSequence;

    /// <summary>Whether a frame is half read (a boundary otherwise).</summary>
    public bool IsMidFrame => _headerHave > 0;

    /// <summary>Reads from <paramref name="input"/> until a frame completes, breaks a rule, or the input ends.</summary>
    public BulkFrameKind Read(ReadOnlySpan<byte> input, out int consumed)
    {
        consumed = 0;
        Payload = default;
        while (_headerHave < BulkFrame.HeaderBytes)
        {
            if (consumed == input.Length)
            {
                return BulkFrameKind.None;
            }

            byte b = input[consumed];
            if (_headerHave == 0)
            {
                if (b is (byte)'\n' or (byte)'\r' or (byte)' ' or (byte)'\t')
                {
                    if (++_gap > BulkFrame.MaxGapBytes)
                    {
                        return Fail("more than " + BulkFrame.MaxGapBytes.ToString(CultureInfo.InvariantCulture) + " bytes of whitespace where a frame belongs");
                    }

                    consumed++;
                    continue;
                }

                if (b != BulkFrame.Magic)
                {
                    _gap = 0;
                    return BulkFrameKind.NotAFrame;
                }
            }

            int take = Math.Min(BulkFrame.HeaderBytes - _headerHave, input.Length - consumed);
            input.Slice(consumed, take).CopyTo(_header.AsSpan(_headerHave));
            _headerHave += take;
            consumed += take;
            if (_headerHave < BulkFrame.HeaderBytes)
            {
                return BulkFrameKind.None;
            }

            _gap = 0;
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(1));
            uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(5));
            _expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(9));
            if (length > (uint)_maxPayload)
            {
                return Fail("frame " + sequence.ToString(CultureInfo.InvariantCulture) + " announces " + length.ToString(CultureInfo.InvariantCulture)
                    + " bytes, over the bound of " + _maxPayload.ToString(CultureInfo.InvariantCulture));
            }

            if (sequence != _nextSequence)
            {
                return Fail("frame sequence number " + sequence.ToString(CultureInfo.InvariantCulture) + " where "
                    + _nextSequence.ToString(CultureInfo.InvariantCulture) + " was due");
            }

            _payloadLength = (int)length;
            _payloadHave = 0;
            if (length == 0)
            {
                _headerHave = 0;
                if (_expectedCrc != 0)
                {
                    return Fail("end frame with checksum 0x" + _expectedCrc.ToString("X8", CultureInfo.InvariantCulture) + " instead of 0");
                }

                return BulkFrameKind.End;
            }

            _payload ??= _pool.Rent(_maxPayload);
        }

        int more = Math.Min(_payloadLength - _payloadHave, input.Length - consumed);
        input.Slice(consumed, more).CopyTo(_payload.AsSpan(_payloadHave));
        _payloadHave += more;
        consumed += more;
        if (_payloadHave < _payloadLength)
        {
            return BulkFrameKind.None;
        }

        _headerHave = 0;
        uint actual = Crc32C.Compute(_payload!, 0, _payloadLength);
        if (actual != _expectedCrc)
        {
            return Fail("frame " + _nextSequence.ToString(CultureInfo.InvariantCulture) + " of " + _payloadLength.ToString(CultureInfo.InvariantCulture)
                + " bytes has checksum 0x" + actual.ToString("X8", CultureInfo.InvariantCulture) + ", not the announced 0x" + _expectedCrc.ToString("X8", CultureInfo.InvariantCulture));
        }

        _nextSequence++;
        Payload = new ReadOnlyMemory<byte>(_payload, 0, _payloadLength);
        return BulkFrameKind.Data;
    }

    /// <summary>Starts a new transfer: sequence from 0, nothing half read. Keeps the buffer.</summary>
    public void Reset()
    {
        _headerHave = 0;
        _payloadHave = 0;
        _payloadLength = 0;
        _nextSequence = 0;
        _gap = 0;
        Error = null;
        Payload = default;
    }

    public void Dispose()
    {
        Payload = default;
        if (_payload is { } buffer)
        {
            _payload = null;
            _pool.Return(buffer);
        }
    }

    private BulkFrameKind Fail(string error)
    {
        Error = error;
        _headerHave = 0;
        _payloadHave = 0;
        return BulkFrameKind.Error;
    }
}

/// <summary>
/// CRC32C (Castagnoli, reflected 0x82F63B78), the checksum of bulk frames: the hardware
/// instruction where the runtime offers it. The agent and relay (net10) call it directly. The
/// cmdlets' netstandard2.0 build cannot name it, yet runs on .NET 8+ in pwsh 7: there a loop
/// over BitOperations.Crc32C(uint, ulong) is compiled once at run time (an expression tree
/// becomes a JIT-compiled DynamicMethod that inlines the instruction); in Windows PowerShell
/// 5.1, which has no BitOperations, slicing by 8. A delegate called per 8 bytes measured barely
/// better than the table (bench/RESULTS.md, issue 19 stage 5); the compiled loop, stage 7.
/// </summary>
public static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

#if !NET
    /// <summary>(crc, array, start, end) -> crc over the whole 8-byte words of array[start..end); null where the runtime lacks BitOperations.Crc32C.</summary>
    private static readonly Func<uint, byte[], int, int, uint>? Compiled = CompileWordLoop();
#endif

    /// <summary>Which implementation <see cref="Compute(byte[], int, int)"/> uses here: "hardware", "compiled" or "table".</summary>
    internal static string Implementation =>
#if NET
        System.Runtime.Intrinsics.X86.Sse42.X64.IsSupported ? "hardware" : "table";
#else
        Compiled is not null ? "compiled" : "table";
#endif

    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    /// <summary>
    /// The checksum of <paramref name="count"/> bytes of <paramref name="array"/> from
    /// <paramref name="offset"/>: the fast path of the netstandard2.0 build (it needs an array).
    /// </summary>
    public static uint Compute(byte[] array, int offset, int count)
    {
        if (array is null)
        {
            throw new ArgumentNullException(nameof(array));
        }

        if ((uint)offset > (uint)array.Length || (uint)count > (uint)(array.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

#if !NET
        if (Compiled is { } loop && count >= 8)
        {
            int words = count & ~7;
            uint crc = loop(0xFFFFFFFFu, array, offset, offset + words);
            return ~AppendTable(crc, new ReadOnlySpan<byte>(array, offset + words, count - words));
        }
#endif
        return Compute(new ReadOnlySpan<byte>(array, offset, count));
    }

    /// <summary>Slicing by 8 whatever the runtime offers (tests compare the fast paths with it; pwsh cannot pass a span).</summary>
    internal static uint ComputeTable(byte[] array, int offset, int count) => ~AppendTable(0xFFFFFFFFu, new ReadOnlySpan<byte>(array, offset, count));

    private static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
#if NET
        if (System.Runtime.Intrinsics.X86.Sse42.X64.IsSupported)
        {
            ulong c = crc;
            while (data.Length >= 8)
            {
                c = System.Runtime.Intrinsics.X86.Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data.Slice(8);
            }

            crc = (uint)c;
            foreach (byte b in data)
            {
                crc = System.Runtime.Intrinsics.X86.Sse42.Crc32(crc, b);
            }

            return crc;
        }
#endif
        return AppendTable(crc, data);
    }

    private static uint AppendTable(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] t = Table;
        while (data.Length >= 8)
        {
            uint one = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ crc;
            uint two = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(4));
            crc = t[(7 * 256) + (one & 0xFF)] ^ t[(6 * 256) + ((one >> 8) & 0xFF)] ^ t[(5 * 256) + ((one >> 16) & 0xFF)] ^ t[(4 * 256) + (one >> 24)]
                ^ t[(3 * 256) + (two & 0xFF)] ^ t[(2 * 256) + ((two >> 8) & 0xFF)] ^ t[256 + ((two >> 16) & 0xFF)] ^ t[two >> 24];
            data = data.Slice(8);
        }

        foreach (byte b in data)
        {
            crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

#if !NET
    private static Func<uint, byte[], int, int, uint>? CompileWordLoop()
    {
        try
        {
            // BitConverter.ToUInt64 is little-endian only on little-endian machines, which every
            // runtime with a hardware CRC32C the JIT uses is.
            System.Reflection.MethodInfo? step = Type.GetType("System.Numerics.BitOperations", throwOnError: false)
                ?.GetMethod("Crc32C", new[] { typeof(uint), typeof(ulong) });
            if (step is null || !BitConverter.IsLittleEndian)
            {
                return null;
            }

            System.Reflection.MethodInfo word = typeof(BitConverter).GetMethod(nameof(BitConverter.ToUInt64), new[] { typeof(byte[]), typeof(int) })!;
            var crc = Expr.Parameter(typeof(uint), "crc");
            var array = Expr.Parameter(typeof(byte[]), "array");
            var at = Expr.Parameter(typeof(int), "at");
            var end = Expr.Parameter(typeof(int), "end");
            var done = Expr.Label();
            var eight = Expr.Constant(8);
            var body = Expr.Block(
                Expr.Loop(
                    Expr.IfThenElse(
                        Expr.LessThan(at, end),
                        Expr.Block(
                            Expr.Assign(crc, Expr.Call(step, crc, Expr.Call(word, array, at))),
                            Expr.AddAssign(at, eight)),
                        Expr.Break(done)),
                    done),
                crc);
            var loop = Expr.Lambda<Func<uint, byte[], int, int, uint>>(body, crc, array, at, end).Compile();

            // Checked once against the table before it is trusted with frames.
            byte[] probe = new byte[64];
            for (int i = 0; i < probe.Length; i++)
            {
                probe[i] = (byte)((i * 151) + 7);
            }

            return loop(0xFFFFFFFFu, probe, 0, probe.Length) == AppendTable(0xFFFFFFFFu, probe) ? loop : null;
        }
        catch (Exception ex) when (ex is PlatformNotSupportedException or InvalidOperationException or ArgumentException or NotSupportedException or System.Reflection.AmbiguousMatchException)
        {
            return null;
        }
    }
#endif

    private static uint[] BuildTable()
    {
        var t = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            }

            t[i] = c;
        }

        for (int i = 0; i < 256; i++)
        {
            for (int s = 1; s < 8; s++)
            {
                t[(s * 256) + i] = (t[((s - 1) * 256) + i] >> 8) ^ t[t[((s - 1) * 256) + i] & 0xFF];
            }
        }

        return t;
    }
}
