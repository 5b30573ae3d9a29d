using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// A caller that gives up while its request is half written (Ctrl+C during a large
/// guest-file-write) must not cost the connection: the stock qemu-ga serves one client at a
/// time and only accepts a new one after working through everything sent on the old one, so a
/// reconnect right then fails (that made Copy-VMGuestFile's cleanup after Ctrl+C flaky).
/// </summary>
public class AbandonedWriteTests : IClassFixture<QemuGaFixture>
{
    private readonly QemuGaFixture _agent;

    public AbandonedWriteTests(QemuGaFixture agent) => _agent = agent;

    [Fact]
    public async Task A_request_cancelled_mid_write_finishes_writing_and_the_connection_survives()
    {
        var transport = new SlowCountingTransport(new UnixSocketTransport(_agent.SocketPath));
        await using var client = new GuestAgentClient(transport);
        string path = Path.Combine(_agent.Directory, "abandoned.bin");
        long handle = (await client.ExecuteAsync("guest-file-open", new JsonArgs($"{{\"path\":\"{path}\",\"mode\":\"w\"}}"), null, default)).GetInt64();

        // 2 MiB of base64 written 16 KiB per 5 ms (about 0.7 s on the wire), cancelled once
        // 256 KiB of it are out.
        string payload = Convert.ToBase64String(new byte[1536 * 1024]);
        using var cancel = new CancellationTokenSource();
        transport.CancelAfterBytes(cancel, 256 * 1024);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.ExecuteAsync("guest-file-write", new JsonArgs($"{{\"handle\":{handle},\"buf-b64\":\"{payload}\"}}"), null, cancel.Token));

        // The next calls go over the same connection, re-synced past the abandoned reply.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ExecuteAsync("guest-ping", bound.Token);
        await client.ExecuteAsync("guest-file-close", new JsonArgs($"{{\"handle\":{handle}}}"), null, bound.Token);
        Assert.True(transport.CancelledMidWrite);
        Assert.Equal(1, transport.Connects);
        Assert.Equal(1536 * 1024, new FileInfo(path).Length);
    }

    [Fact]
    public async Task A_write_that_cannot_finish_drops_the_connection_after_the_bound_and_the_next_call_reconnects()
    {
        // The channel stops taking bytes mid-request (a stalled guest): the abandoned write
        // cannot finish, so after AbandonedWriteTimeout the connection is dropped, not held.
        var transport = new SlowCountingTransport(new UnixSocketTransport(_agent.SocketPath));
        await using var client = new GuestAgentClient(transport, new GuestAgentClientOptions { AbandonedWriteTimeout = TimeSpan.FromMilliseconds(300) });
        await client.ExecuteAsync("guest-ping", default);

        string payload = Convert.ToBase64String(new byte[1024 * 1024]);
        transport.StallArmed = true;
        using var cancel = new CancellationTokenSource();
        transport.CancelAfterBytes(cancel, 1);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.ExecuteAsync("guest-file-write", new JsonArgs($"{{\"handle\":1,\"buf-b64\":\"{payload}\"}}"), null, cancel.Token));
        transport.StallArmed = false;

        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ExecuteAsync("guest-ping", bound.Token);
        Assert.True(transport.CancelledMidWrite);
        Assert.Equal(1, transport.MidWriteCancellations);
        Assert.Equal(2, transport.Connects);
    }

    /// <summary>Counts connections and slows writes down so a cancellation lands mid-request.</summary>
    private sealed class SlowCountingTransport : IGuestAgentTransport
    {
        private readonly IGuestAgentTransport _inner;
        private int _connects;

        public SlowCountingTransport(IGuestAgentTransport inner) => _inner = inner;

        public string Endpoint => _inner.Endpoint;

        public int Connects => _connects;

        public int MidWriteCancellations;

        /// <summary>While set, every write waits until it is cancelled (a guest that stopped reading).</summary>
        public volatile bool StallArmed;

        private CancellationTokenSource? _cancelMidWrite;
        private long _bytesUntilCancel;

        /// <summary>True once <see cref="CancelAfterBytes"/> fired with bytes of the request still to go.</summary>
        public bool CancelledMidWrite { get; private set; }

        /// <summary>Cancels <paramref name="cts"/> once this many more bytes have been written.</summary>
        public void CancelAfterBytes(CancellationTokenSource cts, long bytes)
        {
            _bytesUntilCancel = bytes;
            _cancelMidWrite = cts;
        }

        private void Written(int count, bool more)
        {
            if (_cancelMidWrite is { } cts && (_bytesUntilCancel -= count) <= 0)
            {
                _cancelMidWrite = null;
                CancelledMidWrite = more;
                cts.Cancel();
            }
        }

        public async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _connects);
            return new SlowStream(await _inner.ConnectAsync(cancellationToken).ConfigureAwait(false), this);
        }

        private sealed class SlowStream : Stream
        {
            private readonly Stream _inner;
            private readonly SlowCountingTransport _owner;

            public SlowStream(Stream inner, SlowCountingTransport owner)
            {
                _inner = inner;
                _owner = owner;
            }

            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() => _inner.Flush();
            public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
            public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                WriteAsync(new ReadOnlyMemory<byte>(buffer, offset, count), cancellationToken).AsTask();

            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                // The client may hand over a request in several writes of any size: pace by bytes.
                const int Piece = 16 * 1024;
                for (int i = 0; i < buffer.Length; i += Piece)
                {
                    try
                    {
                        // Stalling: the first piece goes out, then nothing more.
                        await Task.Delay(!_owner.StallArmed ? 5 : i == 0 ? 0 : Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        Interlocked.Increment(ref _owner.MidWriteCancellations);
                        throw;
                    }
                    int n = Math.Min(Piece, buffer.Length - i);
                    await _inner.WriteAsync(buffer.Slice(i, n), cancellationToken).ConfigureAwait(false);
                    _owner.Written(n, i + n < buffer.Length);
                }
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _inner.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }
}
