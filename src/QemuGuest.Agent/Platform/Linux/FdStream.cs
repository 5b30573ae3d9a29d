using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Channels;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// A duplex stream over a raw file descriptor (an accepted socket, a virtio/serial port) with
/// plain read(2)/write(2). Reads block a thread-pool thread, which keeps it simple for the
/// agent's one connection. Disposing shuts a socket down first so a blocked read returns.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class FdStream : Stream, ITimedReadStream
{
    private int _fd;
    private readonly bool _isSocket;

    public FdStream(int fd, bool isSocket)
    {
        _fd = fd;
        _isSocket = isSocket;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            int fd = Volatile.Read(ref _fd);
            if (fd < 0)
            {
                return 0;
            }

            nint n;
            fixed (byte* p = buffer)
            {
                n = Libc.Read(fd, p, buffer.Length);
            }

            if (n >= 0)
            {
                return (int)n;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR)
            {
                continue;
            }

            if (errno == Libc.EAGAIN)
            {
                Thread.Sleep(50);
                continue;
            }

            throw new IOException(Libc.StrError(errno));
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // A pool thread, not LongRunning: LongRunning starts a new OS thread for every read, and a
        // virtio-serial read returns at most one 4 KiB port buffer, so an 80 KB write request
        // cost ~20 thread creations (to-guest copies ran at 0.3 MiB/s in a TCG VM).
        return new ValueTask<int>(Task.Factory.StartNew(
            static state =>
            {
                var (self, mem) = ((FdStream, Memory<byte>))state!;
                return self.Read(mem.Span);
            },
            (this, buffer),
            cancellationToken,
            TaskCreationOptions.None,
            TaskScheduler.Default));
    }

    /// <inheritdoc />
    /// <remarks>
    /// poll(2) first: a blocked read(2) ignores cancellation, so on a device whose host side is
    /// connected but silent the bulk mode's silence bound never fired and the agent sat in
    /// frame mode for good.
    /// </remarks>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)Math.Ceiling(Math.Max(0, timeout.TotalMilliseconds));
        return new ValueTask<int>(Task.Factory.StartNew(
            static state =>
            {
                var (self, mem, until, token) = ((FdStream, Memory<byte>, long, CancellationToken))state!;
                return self.WaitReadable(until, token) ? self.Read(mem.Span) : -1;
            },
            (this, buffer, deadline, cancellationToken),
            cancellationToken,
            TaskCreationOptions.None,
            TaskScheduler.Default));
    }

    /// <summary>Whether there is something to read (or an end or error to report) before <paramref name="deadline"/> (Environment.TickCount64).</summary>
    private bool WaitReadable(long deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            int fd = Volatile.Read(ref _fd);
            if (fd < 0)
            {
                return true;
            }

            // Slices of at most 100 ms so that stopping the agent is not held up by a wait.
            long left = deadline - Environment.TickCount64;
            if (left <= 0 || cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            var pfd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            int r = Libc.Poll(&pfd, 1, (int)Math.Min(left, 100));
            if (r > 0)
            {
                return true;
            }

            if (r < 0 && Marshal.GetLastPInvokeError() is int errno && errno != Libc.EINTR)
            {
                throw new IOException(Libc.StrError(errno));
            }
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int fd = Volatile.Read(ref _fd);
            if (fd < 0)
            {
                throw new ObjectDisposedException(nameof(FdStream));
            }

            nint n;
            fixed (byte* p = buffer)
            {
                n = Libc.Write(fd, p, buffer.Length);
            }

            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR)
                {
                    continue;
                }

                if (errno == Libc.EAGAIN)
                {
                    Thread.Sleep(10);
                    continue;
                }

                throw new IOException(Libc.StrError(errno));
            }

            buffer = buffer.Slice((int)n);
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            if (_isSocket)
            {
                Libc.Shutdown(fd, Libc.SHUT_RDWR);
            }

            Libc.Close(fd);
        }

        base.Dispose(disposing);
    }
}
