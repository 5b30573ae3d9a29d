using System;
using System.Collections.Generic;

namespace QemuGuest.Protocol.Marshalling;

/// <summary>
/// A small pool of byte arrays for payloads (base64 text, decoded blocks) that keeps at most
/// <see cref="ArraysPerSize"/> arrays of each power-of-two size up to <see cref="MaxPooledSize"/>
/// and gives everything back on <see cref="Trim"/>. Unlike ArrayPool.Shared, which keeps what
/// it is given (up to 1 GiB arrays, per core) for the life of the process, what this pool holds
/// is bounded (2 x (64 KiB + ... + 16 MiB) = 64 MiB at worst) and released when the owner goes
/// idle. Larger requests get plain arrays that the GC takes back. Thread-safe.
/// </summary>
public sealed class BoundedBufferPool
{
    public const int MinPooledSize = 64 * 1024;
    public const int MaxPooledSize = 16 * 1024 * 1024;
    public const int ArraysPerSize = 2;

    private readonly Stack<byte[]>[] _buckets;
    private readonly object _lock = new();

    public BoundedBufferPool()
    {
        int count = BucketIndex(MaxPooledSize) + 1;
        _buckets = new Stack<byte[]>[count];
        for (int i = 0; i < count; i++)
        {
            _buckets[i] = new Stack<byte[]>(ArraysPerSize);
        }
    }

    /// <summary>The pool the agent's generated dispatcher and handlers share.</summary>
    public static BoundedBufferPool Shared { get; } = new();

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes (not cleared).</summary>
    public byte[] Rent(int minimumLength)
    {
        if (minimumLength < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(minimumLength));
        }

        if (minimumLength > MaxPooledSize)
        {
            return new byte[minimumLength];
        }

        int index = BucketIndex(minimumLength);
        lock (_lock)
        {
            if (_buckets[index].Count > 0)
            {
                return _buckets[index].Pop();
            }
        }

        return new byte[MinPooledSize << index];
    }

    /// <summary>Takes an array back (one from <see cref="Rent"/>; anything else is dropped).</summary>
    public void Return(byte[] array)
    {
        if (array is null || array.Length < MinPooledSize || array.Length > MaxPooledSize || (array.Length & (array.Length - 1)) != 0)
        {
            return;
        }

        int index = BucketIndex(array.Length);
        lock (_lock)
        {
            if (_buckets[index].Count < ArraysPerSize)
            {
                _buckets[index].Push(array);
            }
        }
    }

    /// <summary>Drops every pooled array (the GC takes them back).</summary>
    public void Trim()
    {
        lock (_lock)
        {
            foreach (Stack<byte[]> bucket in _buckets)
            {
                bucket.Clear();
            }
        }
    }

    /// <summary>Bytes held by the pool now.</summary>
    public long PooledBytes
    {
        get
        {
            long total = 0;
            lock (_lock)
            {
                for (int i = 0; i < _buckets.Length; i++)
                {
                    total += (long)_buckets[i].Count * (MinPooledSize << i);
                }
            }

            return total;
        }
    }

    private static int BucketIndex(int length)
    {
        int index = 0;
        int size = MinPooledSize;
        while (size < length)
        {
            size <<= 1;
            index++;
        }

        return index;
    }
}
