using System;
using System.Buffers;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over one buffer that grows by doubling: from ArrayPool up to
/// <see cref="SharedPool.MaxPooledBytes"/>, a plain array above it.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int MinimumSize = 256;
    private const int LargeHint = 1024 * 1024;
    private const int TailRoom = 64 * 1024;
    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialSize = 4096)
    {
        _buffer = Rent(Math.Max(initialSize, MinimumSize));
    }

    public int WrittenCount => _written;

    public int Capacity => _buffer.Length;

    public ReadOnlyMemory<byte> WrittenMemory => new(_buffer, 0, _written);

    public ReadOnlySpan<byte> WrittenSpan => new(_buffer, 0, _written);

    public void Clear() => _written = 0;

    /// <summary>Clears, and gives a large buffer back to the pool so one big message does not pin it.</summary>
    public void Clear(int retainAtMost)
    {
        _written = 0;
        if (_buffer.Length > retainAtMost)
        {
            byte[] old = _buffer;
            _buffer = Rent(MinimumSize);
            Release(old);
        }
    }

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Write(byte value)
    {
        Ensure(1);
        _buffer[_written++] = value;
    }

    public void Dispose()
    {
        byte[] old = _buffer;
        _buffer = Array.Empty<byte>();
        _written = 0;
        Release(old);
    }

    private static byte[] Rent(int size) => size <= SharedPool.MaxPooledBytes ? ArrayPool<byte>.Shared.Rent(size) : new byte[size];

    private static void Release(byte[] buffer)
    {
        if (buffer.Length > 0 && buffer.Length <= SharedPool.MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1)
        {
            sizeHint = 1;
        }

        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }

        long needed = (long)_written + sizeHint;

        // A large hint is one large value (a guest-file-read reply's base64 asks for all of it
        // at once) followed by a few bytes of JSON: room for those, not for twice the value,
        // which cost a second 128 MiB buffer and copy for every 48 MiB read.
        long size = sizeHint >= LargeHint
            ? needed + TailRoom
            : Math.Max(needed, Math.Max(MinimumSize, (long)_buffer.Length * 2));
        if (size > int.MaxValue - 64)
        {
            size = Math.Max(needed, int.MaxValue - 64);
        }

        byte[] next = Rent((int)size);
        Buffer.BlockCopy(_buffer, 0, next, 0, _written);
        byte[] old = _buffer;
        _buffer = next;
        Release(old);
    }
}
