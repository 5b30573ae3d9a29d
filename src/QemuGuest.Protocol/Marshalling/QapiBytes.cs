using System;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// The bytes of a schema member with the 'base64' feature as the agent's handler returns them,
/// before encoding: the generated reply writer encodes them straight into the reply, so the
/// base64 text never exists as a string (a 48 MiB guest-file-read was a 128 MiB UTF-16 string,
/// copied twice more on its way out). The buffer comes from a pool; Dispose gives it back and
/// the bytes are invalid afterwards.
/// </summary>
public sealed class QapiBytes : IDisposable
{
    private readonly BoundedBufferPool? _pool;
    private byte[]? _buffer;
    private int _length;

    private QapiBytes(byte[] buffer, int length, BoundedBufferPool? pool)
    {
        _buffer = buffer;
        _length = length;
        _pool = pool;
    }

    /// <summary>Room for up to <paramref name="capacity"/> bytes from <paramref name="pool"/>; <see cref="Length"/> starts at 0.</summary>
    public static QapiBytes Rent(int capacity, BoundedBufferPool pool)
    {
        if (pool is null)
        {
            throw new ArgumentNullException(nameof(pool));
        }

        return new QapiBytes(pool.Rent(capacity), 0, pool);
    }

    /// <summary>Bytes that did not come from a pool (tests, small values).</summary>
    public static QapiBytes FromArray(byte[] bytes)
    {
        if (bytes is null)
        {
            throw new ArgumentNullException(nameof(bytes));
        }

        return new QapiBytes(bytes, bytes.Length, null);
    }

    /// <summary>The whole buffer, to fill before setting <see cref="Length"/>.</summary>
    public Span<byte> Buffer => Live();

    /// <summary>How many bytes of <see cref="Buffer"/> are the value.</summary>
    public int Length
    {
        get => _length;
        set
        {
            if (value < 0 || value > Live().Length)
            {
                throw new ArgumentOutOfRangeException(nameof(value));
            }

            _length = value;
        }
    }

    /// <summary>The value.</summary>
    public ReadOnlySpan<byte> Span => new(Live(), 0, _length);

    public void Dispose()
    {
        byte[]? buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            _pool?.Return(buffer);
        }
    }

    private byte[] Live() => _buffer ?? throw new ObjectDisposedException(nameof(QapiBytes));
}
