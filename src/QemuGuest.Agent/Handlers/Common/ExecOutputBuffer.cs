using System;
using System.IO;
using System.Threading;

namespace QemuGuest.Agent.Handlers.Common;

/// <summary>
/// One captured output stream of a child. Two modes:
/// <list type="bullet">
/// <item>kept (guest-exec semantics): everything up to <c>cap</c> bytes is kept until the child
/// exits; the excess is read and discarded (drained) so the child never blocks, and
/// <see cref="Truncated"/> is set.</item>
/// <item>streamed (exec-start stream-output): a bounded window; the pump blocks when it is
/// full, so the child waits in write(2) until the client reads, and nothing is lost.</item>
/// </list>
/// </summary>
public sealed class ExecOutputBuffer
{
    private readonly object _gate = new();
    private readonly int _cap;
    private readonly bool _streamed;
    private readonly Action? _pumped;
    private byte[] _data = new byte[4096];
    private int _start;
    private int _length;
    private bool _closed;

    // pumped: called (outside this buffer's lock) after each chunk the pump appended, so a reader
    // waiting for any of several sources wakes at once instead of polling.
    public ExecOutputBuffer(int cap, bool streamed, Action? pumped = null)
    {
        _cap = cap;
        _streamed = streamed;
        _pumped = pumped;
    }

    public bool Truncated { get; private set; }

    /// <summary>True once the writer side hit EOF and everything was pumped in.</summary>
    public bool Closed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    public int Available
    {
        get
        {
            lock (_gate)
            {
                return _length;
            }
        }
    }

    /// <summary>Reads <paramref name="source"/> to its end on the calling thread.</summary>
    public void Pump(Stream source)
    {
        byte[] chunk = new byte[65536];
        try
        {
            while (true)
            {
                int n;
                try
                {
                    n = source.Read(chunk, 0, chunk.Length);
                }
                catch (IOException)
                {
                    break;
                }
                catch (ObjectDisposedException)
                {
                    break;
                }

                if (n <= 0)
                {
                    break;
                }

                Append(chunk.AsSpan(0, n));
                _pumped?.Invoke();
            }
        }
        finally
        {
            lock (_gate)
            {
                _closed = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            while (bytes.Length > 0)
            {
                int room = _cap - _length;
                if (room <= 0)
                {
                    if (!_streamed)
                    {
                        Truncated = true; // drain: drop the rest
                        return;
                    }

                    Monitor.Wait(_gate, 200);
                    continue;
                }

                int take = Math.Min(room, bytes.Length);
                EnsureCapacity(_length + take);
                int end = _start + _length;
                bytes.Slice(0, take).CopyTo(_data.AsSpan(end));
                _length += take;
                bytes = bytes.Slice(take);
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Takes up to <paramref name="max"/> bytes (all when max is negative).</summary>
    public byte[] Take(int max)
    {
        lock (_gate)
        {
            int n = max < 0 ? _length : Math.Min(max, _length);
            byte[] result = _data.AsSpan(_start, n).ToArray();
            _start += n;
            _length -= n;
            if (_length == 0)
            {
                _start = 0;
            }

            Monitor.PulseAll(_gate);
            return result;
        }
    }

    /// <summary>Waits until data arrives, the stream closes, or the timeout passes.</summary>
    public void WaitForData(int timeoutMs)
    {
        lock (_gate)
        {
            if (_length == 0 && !_closed && timeoutMs > 0)
            {
                Monitor.Wait(_gate, timeoutMs);
            }
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_start + needed <= _data.Length)
        {
            return;
        }

        if (needed <= _data.Length / 2 && _start > 0)
        {
            Buffer.BlockCopy(_data, _start, _data, 0, _length);
            _start = 0;
            return;
        }

        int size = _data.Length;
        while (size < needed)
        {
            size *= 2;
        }

        var bigger = new byte[size];
        Buffer.BlockCopy(_data, _start, bigger, 0, _length);
        _data = bigger;
        _start = 0;
    }
}
