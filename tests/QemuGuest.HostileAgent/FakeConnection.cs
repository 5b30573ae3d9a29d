using System;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.HostileAgent;

/// <summary>One connection of the fake agent. Writes are serialised; a write to a gone peer marks it closed instead of throwing.</summary>
public sealed class FakeConnection
{
    private readonly Stream _stream;
    private readonly Socket? _socket;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private long _bytesSent;

    public FakeConnection(Stream stream, Socket? socket = null)
    {
        _stream = stream;
        _socket = socket;
    }

    public bool Closed { get; private set; }

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public Task SendAsync(string text, bool delimiter = false) => SendAsync(Encoding.UTF8.GetBytes(text), delimiter);

    public async Task SendAsync(byte[] bytes, bool delimiter = false)
    {
        if (Closed)
        {
            return;
        }

        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (delimiter)
            {
                await _stream.WriteAsync(new byte[] { 0xFF }).ConfigureAwait(false);
            }

            await _stream.WriteAsync(bytes).ConfigureAwait(false);
            await _stream.FlushAsync().ConfigureAwait(false);
            Interlocked.Add(ref _bytesSent, bytes.Length);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or NotSupportedException)
        {
            Closed = true;
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Close()
    {
        Closed = true;
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
        }

        _stream.Dispose();
    }
}
