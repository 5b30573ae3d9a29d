using System;
using System.IO;
using System.Threading;

namespace QemuGuest.Agent.Handlers.Common;

/// <summary>
/// Standard input of a stream-input child (exec-start stream-input, fed by exec-write). The
/// agent serves one request at a time, so an exec-write must never wait for the child to read:
/// it appends what fits into a bounded queue and returns, and a pump thread of its own writes
/// the queue into the pipe at the child's pace. Close is a marker behind the data: the pipe is
/// closed once everything before it was written.
/// </summary>
public sealed class ExecInputQueue
{
    private readonly object _gate = new();
    private readonly int _cap;
    private byte[] _data = new byte[4096];
    private int _start;
    private int _length;
    private bool _closeRequested;
    private bool _gone;

    public ExecInputQueue(int cap)
    {
        _cap = cap;
    }

    /// <summary>
    /// Appends as much of <paramref name="data"/> as the free space allows and, when all of it
    /// fitted and <paramref name="close"/> is set, marks the end of input. Returns how many
    /// bytes were taken and whether input is now closed; Taken is -1 when input was already
    /// closed or the pipe is gone.
    /// </summary>
    public (int Taken, bool Closed) Append(ReadOnlySpan<byte> data, bool close, bool bounded = true)
    {
        lock (_gate)
        {
            if (_closeRequested || _gone)
            {
                return (-1, _closeRequested);
            }

            int take = bounded ? Math.Min(data.Length, _cap - _length) : data.Length;
            if (take > 0)
            {
                Reserve(take);
                data.Slice(0, take).CopyTo(_data.AsSpan(_length));
                _length += take;
            }

            if (close && take == data.Length)
            {
                _closeRequested = true;
            }

            Monitor.PulseAll(_gate);
            return (take, _closeRequested);
        }
    }

    /// <summary>The child is gone: the pump stops and queued bytes are dropped.</summary>
    public void Abandon()
    {
        lock (_gate)
        {
            _gone = true;
            _length = 0;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Writes the queue into <paramref name="stdin"/> until closed or abandoned (its own thread).</summary>
    public void Pump(Stream stdin)
    {
        byte[] chunk = new byte[65536];
        try
        {
            while (true)
            {
                int n;
                lock (_gate)
                {
                    while (_length == 0 && !_closeRequested && !_gone)
                    {
                        Monitor.Wait(_gate);
                    }

                    if (_gone || _length == 0)
                    {
                        return;
                    }

                    n = Math.Min(_length, chunk.Length);
                    Array.Copy(_data, _start, chunk, 0, n);
                    _start += n;
                    _length -= n;
                    if (_length == 0)
                    {
                        _start = 0;
                    }
                }

                stdin.Write(chunk, 0, n);
                stdin.Flush();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The child closed its end (EPIPE): later writes are refused, not queued forever.
            Abandon();
        }
        finally
        {
            stdin.Dispose();
        }
    }

    // Compacts, then grows by doubling up to the cap (or beyond it for an unbounded append).
    private void Reserve(int more)
    {
        if (_start > 0)
        {
            Array.Copy(_data, _start, _data, 0, _length);
            _start = 0;
        }

        int need = _length + more;
        if (need > _data.Length)
        {
            int size = _data.Length;
            while (size < need)
            {
                size = size > int.MaxValue / 2 ? need : size * 2;
            }

            Array.Resize(ref _data, size);
        }
    }
}
